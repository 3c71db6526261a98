/**
 * A convolution's weight gradient by Winograd's algorithm (GradientOptions.convWeightGrad
 * "winograd"), for 3×3 and 5×5 kernels of stride 1: the derivative of the same trilinear identity
 * as the forward's (src/graph/winograd.ts), dW = Gᵀ[(A e) ⊙ (Bᵀ d)] per tile, summed over tiles:
 *
 *   V = Bᵀ d B for every α×α tile (stride m) of the padded input, as in the forward:
 *       one Conv3D over the (channel, image) planes → [α², C, N·T·T];
 *   E = A e Aᵀ for every m×m tile of dY (zero past its edge) → [α², K, N·T·T];
 *   M = E · Vᵀ: α² products [K, N·T·T] × [N·T·T, C], each summing over images and tiles;
 *   dW = (Gᵀ ⊗ Gᵀ) M → [K, C, r, r].
 *
 * The per-offset GEMMs (the "gemm" form) multiply N·Ho·Wo·r² per channel pair; this form α²·N·T²
 * (AlexNet's conv2: 49·81 = 3969 against 25·729 = 18225). With `GradientOptions.batch`, batches
 * whose transforms would take more than `SLICE_BYTES` (winograd.ts) run in slices of ⌈N/k⌉ images, one
 * after another, and their M are added up (a slice past the end of a smaller batch counts zero).
 */
import type { GraphBuilder } from "../ir";
import type { GradientOptions } from "../op";
import { DTYPE_CODE, isStatic, Value } from "../types";
import { batchSlices, chooseTile, KERNELS, kron, MIN_CHANNELS, SLICE_BYTES, winogradTransforms } from "../winograd";

interface Window {
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly dilations: readonly number[];
  readonly pads: readonly number[];
}

/** Whether the Winograd form applies: 2-D, 3×3 or 5×5, stride and dilation 1, static dims, enough channels. */
export function winogradWeightGradApplies(x: Value, dY: Value, w: Value, win: Window): boolean {
  if (x.shape.length !== 4 || !isStatic(w.shape) || !isStatic(x.shape.slice(1)) || !isStatic(dY.shape.slice(1))) return false;
  const [cout, cin, kh, kw] = w.shape;
  return KERNELS.includes(kh) && kw === kh && win.strides.every((s) => s === 1) && win.dilations.every((d) => d === 1) && cin >= MIN_CHANNELS && cout >= MIN_CHANNELS;
}

export function convWeightGradWinograd(b: GraphBuilder, x: Value, dY: Value, w: Value, win: Window, opts: GradientOptions): Value {
  const [cout, cin, r] = w.shape as number[];
  const [h, wd] = x.shape.slice(2) as number[];
  const [ho, wo] = dY.shape.slice(2) as number[];
  const m = chooseTile(r, ho, wo);
  const alpha = m + r - 1;
  const a2 = alpha * alpha;
  const [th, tw] = [Math.ceil(ho / m), Math.ceil(wo / m)];
  const [pt, pl] = win.pads;
  const { BT, G, AT } = winogradTransforms(m, r);
  const A = AT[0].map((_, p) => AT.map((row) => row[p])); // α×m
  const inputKernels = b.constant("float32", [a2, 1, 1, alpha, alpha], kron(BT, BT).flat());
  const gradKernels = b.constant("float32", [a2, 1, 1, m, m], kron(A, A).flat());
  const GT = G[0].map((_, k) => G.map((row) => row[k])); // r×α
  const outputTransform = b.constant("float32", [r * r, a2], kron(GT, GT).flat());

  /** Σ over the images of `xs`/`dys` of E · Vᵀ: [α², K, C]. */
  const products = (xs: Value, dys: Value): Value => {
    const planes = (t: Value, hh: number, ww: number) => b.op1("Reshape", [b.op1("Transpose", [t], { perm: [1, 0, 2, 3] }), b.ints([1, 1, -1, hh, ww])]);
    const v = b.op1("Conv", [planes(xs, h, wd), inputKernels], {
      kernel_shape: [1, alpha, alpha],
      strides: [1, m, m],
      pads: [0, pt, pl, 0, th * m + r - 1 - h - pt, tw * m + r - 1 - wd - pl],
    });
    const e = b.op1("Conv", [planes(dys, ho, wo), gradKernels], { kernel_shape: [1, m, m], strides: [1, m, m], pads: [0, 0, 0, 0, th * m - ho, tw * m - wo] });
    const vt = b.op1("Transpose", [b.op1("Reshape", [v, b.ints([a2, cin, -1])])], { perm: [0, 2, 1] });
    return b.op1("MatMul", [b.op1("Reshape", [e, b.ints([a2, cout, -1])]), vt]);
  };

  const perImage = 4 * th * tw * (a2 * (2 * cin + 2 * cout) + m * m * cout);
  const k = batchSlices(opts.batch, perImage, opts.winogradSliceBytes ?? SLICE_BYTES);
  let sum: Value;
  if (k === 1) sum = products(x, dY);
  else {
    // Slice i holds images [i·c, min((i+1)·c, N)), c = ⌈N/k⌉; one past the end (a smaller batch)
    // takes the last image instead (onnxruntime's Conv takes no empty batch) and counts zero.
    // Each slice waits for the sum so far (its start adds x > x, which is false, of the sum's first element).
    const batch = b.op1("Slice", [b.op1("Shape", [x]), b.ints([0]), b.ints([1])]);
    const size = b.op1("Div", [b.op1("Add", [batch, b.ints([k - 1])]), b.ints([k])]);
    const last = b.op1("Sub", [batch, b.ints([1])]);
    const min = (p: Value, q: Value) => b.op1("Where", [b.op1("Less", [p, q]), p, q]);
    const max = (p: Value, q: Value) => b.op1("Where", [b.op1("Less", [p, q]), q, p]);
    let after: Value | undefined;
    let acc: Value | undefined;
    for (let i = 0; i < k; i++) {
      const from = b.op1("Mul", [size, b.ints([i])]);
      const clamped = min(from, last);
      const end = max(min(b.op1("Mul", [size, b.ints([i + 1])]), batch), b.op1("Add", [clamped, b.ints([1])]));
      // `after` is 0, computed from the sum so far: the slice cannot start before it exists.
      const start = after ? b.op1("Add", [clamped, after]) : clamped;
      const slice = (t: Value) => b.op1("Slice", [t, start, end, b.ints([0])]);
      let p = products(slice(x), slice(dY));
      if (i > 0) p = b.op1("Mul", [p, b.op1("Cast", [b.op1("Less", [from, batch])], { to: DTYPE_CODE.float32 })]);
      acc = acc ? b.op1("Add", [acc, p]) : p;
      if (i < k - 1) {
        const first = b.op1("Slice", [b.op1("Reshape", [acc, b.ints([-1])]), b.ints([0]), b.ints([1])]);
        after = b.op1("ReduceSum", [b.op1("Cast", [b.op1("Greater", [first, first])], { to: DTYPE_CODE.int64 })], { keepdims: 1 });
      }
    }
    sum = acc!;
  }
  const dw = b.op1("MatMul", [outputTransform, b.op1("Reshape", [sum, b.ints([a2, cout * cin])])]); // [r², K·C]
  return b.op1("Reshape", [b.op1("Transpose", [dw], { perm: [1, 0] }), b.ints([cout, cin, r, r])]);
}
