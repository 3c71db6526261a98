/**
 * A shape-types fixture: LeNet whose second conv has a 5×15 kernel on a 14×14 input, too wide
 * for the width. The @ts-expect-error keeps `tsc -p .` green; test/shape-types.test.ts removes
 * it and checks tsc's message and line.
 */
import { model, N } from "../../src";

export default model(
  { name: "kernel-too-large", input: [N, 1, 28, 28] },
  (x) =>
    x
      .conv2d(6, { kernel: 5, padding: 2 }).sigmoid().avgPool2d(2)
      // @ts-expect-error -- conv2d: kernel 15 is larger than the padded input width 14+2*0=14
      .conv2d(16, { kernel: [5, 15] }).sigmoid().avgPool2d(2)
      .flatten()
      .linear(120).sigmoid()
      .linear(84).sigmoid()
      .linear(10),
);
