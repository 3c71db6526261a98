/**
 * The element type is part of a tensor's type: checked by `tsc --noEmit -p .` (npm test), which
 * fails if the @ts-expect-error below stops being an error.
 */
import { model, N, Tensor } from "../../src";

export default model({ name: "dtype_in_the_type", input: [N, 1, 28, 28] }, (x) => {
  const h = x.conv2d(4, { kernel: 3 }).relu();
  const f32: "float32" = h.dtype;
  // @ts-expect-error a float32 tensor's dtype is not "float64"
  const f64: "float64" = h.dtype;
  const t: Tensor<readonly ["N", 4, 26, 26], "float32"> = h;
  void [f32, f64, t];
  return h.flatten().linear(10);
});
