/**
 * A shape-types fixture: AlexNet's layers on a 32×32 input. 32 → conv1 7 → pool1 3 → conv2 3
 * → pool2 1 → conv3..5 1, and pool3's 3×3 window does not fit a 1×1 input. The
 * @ts-expect-error keeps `tsc -p .` green; test/shape-types.test.ts removes it and checks
 * tsc's message and line.
 */
import { model, N } from "../../src";

export default model(
  { name: "input-too-small", input: [N, 1, 32, 32] },
  (x) =>
    x
      .conv2d(96, { kernel: 11, stride: 4, padding: 2 }).relu().maxPool2d(3, { stride: 2 })
      .conv2d(256, { kernel: 5, padding: 2 }).relu().maxPool2d(3, { stride: 2 })
      .conv2d(384, { kernel: 3, padding: 1 }).relu()
      .conv2d(384, { kernel: 3, padding: 1 }).relu()
      // @ts-expect-error -- maxPool2d: kernel 3 is larger than the padded input height 1+2*0=1
      .conv2d(256, { kernel: 3, padding: 1 }).relu().maxPool2d(3, { stride: 2 })
      .flatten()
      .linear(4096).relu().dropout(0.5)
      .linear(4096).relu().dropout(0.5)
      .linear(10),
);
