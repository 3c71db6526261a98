/**
 * MaxPool with its Indices output for the WebGPU provider, which fails at run time on that output:
 * MaxPool plus the same flat indices, as int32, rebuilt from window slices (first maximum in window
 * order, as onnxruntime picks it).
 */
import type { GraphBuilder, Node } from "../ir";
import type { ProviderLowering } from "../lowering";
import { DTYPE_CODE, Value } from "../types";

export const maxPoolForWebGpu: ProviderLowering = {
  rewrite: (ctx, n, [x]) => (n.outputs.length === 2 ? ctx.b.scoped(`${n.name}/webgpu`, () => maxPoolWithIndices(ctx.b, n, x!)) : undefined),
  // int32 indices bound the flat index N·C·H·W (see maxPoolWithIndices).
  maxBatch(n) {
    if (n.outputs.length !== 2) return Infinity;
    const perImage = (n.inputs[0]!.shape.slice(1) as number[]).reduce((a, d) => a * d, 1);
    return Math.floor((2 ** 31 - 1) / perImage);
  },
};

/**
 * MaxPool plus its flat argmax indices, from one strided slice per window offset.
 *
 * Everything here stays on the GPU: the WebGPU provider has no int64 kernels (onnxruntime puts
 * int64 Where/Add on the CPU, with copies both ways) and no `Or`. So the indices are int32
 * (ScatterElements, their only reader, takes int32 or int64); the window offset of the first
 * maximum is chosen per plane position, and one Add puts each plane's base (image·C + channel)·H·W,
 * a small [N, C, 1, 1] tensor, in front. int32 bounds the flat index: N·C·H·W < 2³¹, i.e. the
 * batch may not exceed `maxBatch` (checked by the trainer).
 *
 * The choice is float arithmetic, with no bool tensor: onnxruntime's NHWC layout pass moves
 * transposes into this chain, and the provider has no bool Transpose, so an Equal/And/Where
 * formulation put three full-size transposes per step on the CPU (docs/execution-providers.md).
 * Per offset k: other_k = ⌈clip(y − window_k, 0, 1)⌉ is 0 where the window
 * holds the maximum and 1 elsewhere (y ≥ window_k); free_{k+1} = free_k · other_k; the first
 * maximum is at the offset where free drops, so the plane offset is Σ_k off_k·(free_k − free_{k+1}),
 * exact in float32 while H·W < 2²⁴. (A GPU that flushes subnormals may call two distinct values
 * closer than 1.2e-38 equal; the gradient then goes to the earlier of them.)
 */
function maxPoolWithIndices(b: GraphBuilder, n: Node, x: Value): Value[] {
  const attrs = n.attrs;
  const [kh, kw] = attrs.kernel_shape as number[];
  const [sh, sw] = (attrs.strides as number[] | undefined) ?? [1, 1];
  const [pt, pl, pb, pr] = (attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
  if (attrs.dilations || attrs.ceil_mode === 1) throw new Error(`internal: WebGPU MaxPool lowering handles no dilation or ceil_mode ('${n.name}')`);
  const y = b.op1("MaxPool", [x], attrs as Record<string, number[]>, { outputNames: [n.outputs[0].name] });
  const [, c, h, w] = x.shape as [unknown, number, number, number];
  const [ho, wo] = y.shape.slice(2) as number[];
  const padded = pt || pl || pb || pr ? b.op1("Pad", [x, b.ints([0, 0, pt, pl, 0, 0, pb, pr]), b.scalar(-3.4e38, x.dtype)]) : x;
  if (h * w >= 2 ** 24) throw new Error(`internal: WebGPU MaxPool lowering needs H·W < 2²⁴ ('${n.name}')`);
  // `free`: 1 where no earlier offset of the window held the maximum (first maximum wins, as
  // onnxruntime picks), else 0; `plane`: the offset of the first maximum within its plane.
  let free: Value | undefined;
  let plane: Value | undefined;
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const window = b.op1("Slice", [padded, b.ints([i, j]), b.ints([i + (ho - 1) * sh + 1, j + (wo - 1) * sw + 1]), b.ints([2, 3]), b.ints([sh, sw])]);
      const other = b.op1("Ceil", [b.op1("Clip", [b.op1("Sub", [y, window]), b.scalar(0, x.dtype), b.scalar(1, x.dtype)])]);
      const stillFree = free ? b.op1("Mul", [free, other]) : other;
      const firstHere = b.op1("Sub", [free ?? b.scalar(1, x.dtype), stillFree]);
      const take = x.dtype === "float32" ? firstHere : b.op1("Cast", [firstHere], { to: DTYPE_CODE.float32 });
      const offsets: number[] = [];
      for (let r = 0; r < ho; r++) for (let q = 0; q < wo; q++) offsets.push((r * sh + i - pt) * w + (q * sw + j - pl));
      const term = b.op1("Mul", [take, b.constant("float32", [1, 1, ho, wo], offsets)]);
      plane = plane ? b.op1("Add", [plane, term]) : term;
      free = stillFree;
    }
  }
  // base[n, c] = (n·C + c)·H·W: the flat offset of each (image, channel) plane.
  // The batch from Shape, not Size: the provider's Shape reads no data, while its Size kernel
  // runs on the CPU and would copy all of x to the host first.
  const images = b.op1("ReduceSum", [b.op1("Slice", [b.op1("Shape", [x]), b.ints([0]), b.ints([1])])], { keepdims: 0 });
  const n0 = b.op1("Cast", [b.op1("Range", [b.constant("int64", [], [0]), images, b.constant("int64", [], [1])])], { to: DTYPE_CODE.int32 });
  const imageBase = b.op1("Mul", [b.op1("Unsqueeze", [n0, b.ints([1, 2, 3])]), b.constant("int32", [], [c * h * w])]);
  const base = b.op1("Add", [imageBase, b.constant("int32", [1, c, 1, 1], range(c).map((k) => k * h * w))]);
  const planeIndex = b.op1("Cast", [plane!], { to: DTYPE_CODE.int32 });
  return [y, b.op1("Add", [planeIndex, base], {}, { outputNames: [n.outputs[1].name] })];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
