/**
 * A shape-types fixture: a ResNet block that halves the size and doubles the channels with no
 * 1×1 shortcut conv, so the block and its shortcut differ. The @ts-expect-error keeps `tsc -p .`
 * green; test/shape-types.test.ts removes it and checks tsc's message and line.
 */
import { model, N } from "../../src";

export default model({ name: "residual-mismatch", input: [N, 1, 96, 96] }, (x) =>
  x
    .conv2d(64, { kernel: 7, stride: 2, padding: 3 }).batchNorm2d().relu()
    .maxPool2d(3, { stride: 2, padding: 1 }) // [N,64,24,24]
    .residual(
      // @ts-expect-error -- residual: the block gives [N,128,12,12] but the shortcut gives [N,64,24,24]
      (y) => y.conv2d(128, { kernel: 3, padding: 1, stride: 2 }).batchNorm2d().relu().conv2d(128, { kernel: 3, padding: 1 }).batchNorm2d(),
    )
    .relu()
    .globalAvgPool2d()
    .flatten()
    .linear(10),
);
