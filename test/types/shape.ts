/**
 * The shape is in a tensor's type, and `Tensor.shape` has that type: checked by
 * `tsc --noEmit -p .` (npm test), which fails if an @ts-expect-error below stops being an error.
 */
import { concat, model, N, Tensor } from "../../src";

export default model({ name: "shape_in_the_type", input: [N, 1, 28, 28] }, (x) => {
  const h = x.conv2d(4, { kernel: 3 }).relu();
  const channels: 4 = h.shape[1];
  const batch: "N" = h.shape[0];
  // @ts-expect-error h has 4 channels, not 8
  const eight: 8 = h.shape[1];
  const wide: Tensor = h; // any tensor is a Tensor
  // @ts-expect-error a [N,4,26,26] tensor is not a [N,8,26,26] one
  const other: Tensor<readonly ["N", 8, 26, 26]> = h;
  const joined: readonly ["N", 8, 26, 26] = concat([h, h], 1).shape;
  void [channels, batch, eight, wide, other, joined];
  return h.flatten().linear(10);
});
