/**
 * A shape-types fixture: AlexNet whose fc1 declares 4096 input features, but the flattened
 * pool3 output [N,256,6,6] has 256·6·6 = 9216. The @ts-expect-error keeps `tsc -p .` green;
 * test/shape-types.test.ts removes it and checks tsc's message and line.
 */
import { model, N } from "../../src";

export default model(
  { name: "bad-in-features", input: [N, 1, 224, 224] },
  (x) =>
    x
      .conv2d(96, { kernel: 11, stride: 4, padding: 2 }).relu().maxPool2d(3, { stride: 2 })
      .conv2d(256, { kernel: 5, padding: 2 }).relu().maxPool2d(3, { stride: 2 })
      .conv2d(384, { kernel: 3, padding: 1 }).relu()
      .conv2d(384, { kernel: 3, padding: 1 }).relu()
      .conv2d(256, { kernel: 3, padding: 1 }).relu().maxPool2d(3, { stride: 2 })
      .flatten()
      // @ts-expect-error -- linear: input has 9216 features, inFeatures says 4096
      .linear(4096, { inFeatures: 4096 }).relu().dropout(0.5)
      .linear(4096).relu().dropout(0.5)
      .linear(10),
);
