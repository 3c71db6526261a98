/**
 * A shape-types fixture: LeNet without its flatten, so fc1 gets [N,16,5,5]. The
 * @ts-expect-error keeps `tsc -p .` green; test/shape-types.test.ts removes it and checks
 * tsc's message and line.
 */
import { model, N } from "../../src";

export default model(
  { name: "missing-flatten", input: [N, 1, 28, 28] },
  (x) =>
    x
      .conv2d(6, { kernel: 5, padding: 2 }).sigmoid().avgPool2d(2)
      .conv2d(16, { kernel: 5 }).sigmoid().avgPool2d(2)
      // @ts-expect-error -- linear: input must be [N, features], got [N,16,5,5] (flatten it first)
      .linear(120).sigmoid()
      .linear(84).sigmoid()
      .linear(10),
);
