/**
 * A shape-types fixture: a batched matmul of two feature maps whose inner dims differ (26 vs
 * 13, the second conv strides). The @ts-expect-error keeps `tsc -p .` green;
 * test/shape-types.test.ts removes it and checks tsc's message and line.
 */
import { model, N } from "../../src";

export default model({ name: "matmul-mismatch", input: [N, 1, 28, 28] }, (x) => {
  const q = x.conv2d(4, { kernel: 3 }); // [N,4,26,26]
  const k = x.conv2d(4, { kernel: 3, stride: 2 }); // [N,4,13,13]
  // @ts-expect-error -- matmul: inner dimensions differ: [N,4,26,26] · [N,4,13,13] (26 vs 13)
  return q.matmul(k).flatten().linear(10);
});
