/**
 * A shape-types fixture: LeNet whose second conv declares 16 input channels where the first
 * conv makes 6. The @ts-expect-error keeps `tsc -p .` green; test/shape-types.test.ts removes
 * it and checks tsc's message and line.
 */
import { model, N } from "../../src";

export default model(
  { name: "bad-in-channels", input: [N, 1, 28, 28] },
  (x) =>
    x
      .conv2d(6, { kernel: 5, padding: 2 }).sigmoid().avgPool2d(2)
      // @ts-expect-error -- conv2d: input has 6 channels, inChannels says 16
      .conv2d(16, { kernel: 5, inChannels: 16 }).sigmoid().avgPool2d(2)
      .flatten()
      .linear(120).sigmoid()
      .linear(84).sigmoid()
      .linear(10),
);
