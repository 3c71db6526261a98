/**
 * A shape-types fixture: an inception-style channel concat of a branch that keeps the size
 * (27×27) with one that strides it down (13×13). The @ts-expect-error keeps `tsc -p .` green;
 * test/shape-types.test.ts removes it and checks tsc's message and line.
 */
import { concat, model, N } from "../../src";

export default model({ name: "concat-mismatch", input: [N, 3, 27, 27] }, (x) => {
  const a = x.conv2d(64, { kernel: 1 }).relu(); // [N,64,27,27]
  const b = x.conv2d(32, { kernel: 3, stride: 2 }).relu(); // [N,32,13,13]
  // @ts-expect-error -- concat: inputs [N,64,27,27] and [N,32,13,13] differ at axis 2 (27 vs 13); only the concat axis 1 may differ
  return concat([a, b], 1).flatten().linear(10);
});
