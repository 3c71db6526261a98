/**
 * A lowering pass for onnxruntime's WebGPU provider, which lacks kernels for Dropout,
 * LogSoftmax, OneHot and Loop, and fails at run time on MaxPool's Indices output
 * (architecture §4). Graph → graph, same values under the same names:
 *
 * - Dropout(training) → x · mask / (1 − p) with the mask a graph input `<node>/mask`
 *   (the trainer draws it from the run's seeded generator);
 * - MaxPool with Indices → MaxPool + the same flat indices, as int32, rebuilt from window
 *   slices (first maximum in window order, as onnxruntime picks it);
 * - SoftmaxCrossEntropyLoss → max-shifted log-softmax and a masked sum;
 * - OneHot → Equal against a constant range;
 * - zeros shaped like a float tensor v (ConstantOfShape(Shape(v))) → v · 0, made on the GPU.
 *
 * Precondition: a standalone graph (no adopted outer values). Postcondition: none of the
 * ops above remain; every other node is copied unchanged.
 *
 * `lowerDropout` applies the first rewrite alone. The CPU trainer uses it so that dropout masks
 * come from alexc's generator, drawn per (seed, epoch, batch): a run resumed mid-epoch then
 * sees the masks a straight run saw (onnxruntime's Dropout generator restarts with the session).
 */
import type { Graph, Node } from "../graph/ir";
import { GraphBuilder } from "../graph/ir";
import { Attrs, GradientOptions } from "../graph/op";
import { DTYPE_CODE, TensorData, Value } from "../graph/types";

export interface MaskInput {
  readonly name: string;
  /** Mask shape; the first dim is the batch. */
  readonly shape: readonly (number | string)[];
  /** Drop probability. */
  readonly p: number;
}

/**
 * The gradient formulations the WebGPU step is built with (GradientOptions): each conv weight
 * gradient as one Conv, and max-pooling's scatter zeros as ConstantOfShape(Shape(input)), which
 * this lowering turns into input · 0 on the GPU.
 */
export const WEBGPU_GRADIENTS: GradientOptions = { convWeightGrad: "conv", poolScatterZeros: "input" };

const UNSUPPORTED_ON_WEBGPU = new Set(["Dropout", "LogSoftmax", "OneHot", "Loop", "RandomUniformLike", "SoftmaxCrossEntropyLoss"]);

/** `maxBatch`: the largest batch the lowered graph computes exactly (int32 MaxPool indices). */
export function lowerForWebGpu(g: Graph): { graph: Graph; masks: MaskInput[]; maxBatch: number } {
  return { ...lower(g, new Set([...UNSUPPORTED_ON_WEBGPU, "MaxPool", "ConstantOfShape", "Where"])), maxBatch: maxBatchForInt32Indices(g) };
}

/** Dropout → x · mask / (1 − p) with the mask a graph input; nothing else changes. */
export function lowerDropout(g: Graph): { graph: Graph; masks: MaskInput[] } {
  return lower(g, new Set(["Dropout"]));
}

/** Rewrites the nodes whose op is in `rewrite` (those it has a lowering for); copies the rest. */
function lower(g: Graph, rewrite: ReadonlySet<string>): { graph: Graph; masks: MaskInput[] } {
  const b = new GraphBuilder(g.name);
  const map = new Map<string, Value>();
  const masks: MaskInput[] = [];
  for (const v of g.inputs) map.set(v.name, b.input(v.name, v.dtype, v.shape));
  for (const t of g.initializers) map.set(t.name, b.initializer(t));
  const get = (v: Value | undefined) => (v ? map.get(v.name)! : undefined);
  const constant = (name: string) => g.initializers.find((t) => t.name === name);

  const producer = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o.name, n] as const)));
  /** For ConstantOfShape(Shape(v)) with value 0 of v's type: v. */
  const zerosLike = (n: Node): Value | undefined => {
    const shape = n.inputs[0] && producer.get(n.inputs[0].name);
    const value = n.attrs.value as TensorData | undefined;
    const v = shape?.op === "Shape" ? shape.inputs[0] : undefined;
    return v && value && value.dtype === v.dtype && Number(value.data[0]) === 0 ? v : undefined;
  };

  const gates = rewrite.has("Where") ? floatGates(g, constant) : new Set<Node>();

  for (const n of g.nodes) {
    if (gates.has(n)) continue; // a Greater whose Where readers are rewritten below
    const ins = n.inputs.map(get);
    const bind = (outs: Value[]) => outs.forEach((o, i) => n.outputs[i] && map.set(n.outputs[i].name, o));
    const copy = () => bind(b.op(n.op, ins, n.attrs as Attrs & Record<string, never>, { name: n.name, outputNames: n.outputs.map((o) => o.name), loc: n.loc, doc: n.doc }));
    if (!rewrite.has(n.op)) {
      copy();
    } else if (n.op === "Dropout" && n.outputs.length === 2) {
      const [x] = ins as Value[];
      const p = Number(constant(n.inputs[1]!.name)!.data[0]);
      const mask = b.input(`${n.name}/mask`, "bool", x.shape);
      masks.push({ name: mask.name, shape: x.shape, p });
      b.scoped(`${n.name}/webgpu`, () => {
        const scale = b.op1("Mul", [b.op1("Cast", [mask], { to: DTYPE_CODE[x.dtype] }), b.scalar(1 / (1 - p), x.dtype)]);
        bind([
          b.op1("Mul", [x, scale], {}, { outputNames: [n.outputs[0].name] }),
          b.op1("Identity", [mask], {}, { outputNames: [n.outputs[1].name] }),
        ]);
      });
    } else if (n.op === "ConstantOfShape" && zerosLike(n) !== undefined) {
      // Zeros shaped like a float tensor (MaxPool's gradient scatters into them): from Shape
      // alone onnxruntime builds them on the CPU and copies them over every step. x·0 is built
      // on the GPU; it differs only where x is ±inf or NaN, when the loss is not finite anyway.
      const like = get(zerosLike(n))!;
      bind([b.op1("Mul", [like, b.scalar(0, like.dtype)], {}, { name: n.name, outputNames: [n.outputs[0].name] })]);
    } else if (n.op === "Where" && gates.has(producer.get(n.inputs[0]!.name)!)) {
      // Where(v > 0, a, 0) → a · ⌈clip(v, 0, 1)⌉: the gate as a float 0/1, with no bool tensor.
      const v = get(producer.get(n.inputs[0]!.name)!.inputs[0])!;
      const gate = b.op1("Ceil", [b.op1("Clip", [v, b.scalar(0, v.dtype), b.scalar(1, v.dtype)])], {}, { name: `${n.name}/webgpu/gate` });
      bind([b.op1("Mul", [ins[1]!, gate], {}, { name: n.name, outputNames: [n.outputs[0].name] })]);
    } else if (n.op === "MaxPool" && n.outputs.length === 2) {
      bind(b.scoped(`${n.name}/webgpu`, () => maxPoolWithIndices(b, n, ins[0]!)));
    } else if (n.op === "SoftmaxCrossEntropyLoss") {
      bind(b.scoped(`${n.name}/webgpu`, () => crossEntropy(b, n, ins[0]!, ins[1]!)));
    } else if (n.op === "OneHot") {
      const depth = Number(constant(n.inputs[1]!.name)!.data[0]);
      const values = constant(n.inputs[2]!.name)!;
      const [off, on] = Array.from(values.data as ArrayLike<number>, Number);
      bind([
        b.scoped(`${n.name}/webgpu`, () => {
          const eq = b.op1("Equal", [b.op1("Unsqueeze", [ins[0]!, b.ints([-1])]), b.constant("int64", [depth], range(depth))]);
          return b.op1("Where", [eq, b.scalar(on, values.dtype), b.scalar(off, values.dtype)], {}, { outputNames: [n.outputs[0].name] });
        }),
      ]);
    } else {
      if (UNSUPPORTED_ON_WEBGPU.has(n.op)) throw new Error(`internal: no WebGPU lowering for ${n.op} '${n.name}'`);
      copy();
    }
  }
  for (const o of g.outputs) b.outputs.push(map.get(o.name)!);
  // Constants only the replaced ops read (dropout ratios, OneHot depths) are dropped.
  const graph = b.build(g.doc);
  const used = new Set(graph.nodes.flatMap((n) => n.inputs.map((v) => v?.name)));
  return { graph: { ...graph, initializers: graph.initializers.filter((t) => used.has(t.name)) }, masks };
}

/**
 * The ReLU gates of the backward, Greater(v, 0) read only as Where(gate, a, 0), on tensors of
 * rank ≥ 4. The provider has no bool Transpose, and its NHWC layout pass moves transposes onto
 * such gates; as floats (a · ⌈clip(v, 0, 1)⌉, same value for finite a) they stay on the GPU.
 */
function floatGates(g: Graph, constant: (name: string) => TensorData | undefined): Set<Node> {
  const isZero = (v: Value | undefined) => {
    const t = v && constant(v.name);
    return t !== undefined && t.dims.length === 0 && Number(t.data[0]) === 0;
  };
  const readers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const v of n.inputs) {
      if (!v) continue;
      const list = readers.get(v.name);
      if (list) list.push(n);
      else readers.set(v.name, [n]);
    }
  }
  const gates = new Set<Node>();
  for (const n of g.nodes) {
    if (n.op !== "Greater" || n.outputs[0].shape.length < 4 || !isZero(n.inputs[1])) continue;
    const rs = readers.get(n.outputs[0].name) ?? [];
    const gatedWhere = (r: Node) => r.op === "Where" && r.inputs[0]?.name === n.outputs[0].name && isZero(r.inputs[2]);
    if (rs.length > 0 && rs.every(gatedWhere) && !g.outputs.some((o) => o.name === n.outputs[0].name)) gates.add(n);
  }
  return gates;
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}

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
 * formulation put three full-size transposes per step on the CPU (≈ 45 ms of a 92 ms step at
 * batch 32 on an H200). Per offset k: other_k = ⌈clip(y − window_k, 0, 1)⌉ is 0 where the window
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

/** The largest batch whose MaxPool indices fit int32 (see maxPoolWithIndices). */
function maxBatchForInt32Indices(g: Graph): number {
  let max = Infinity;
  for (const n of g.nodes) {
    if (n.op !== "MaxPool" || n.outputs.length !== 2) continue;
    const perImage = (n.inputs[0]!.shape.slice(1) as number[]).reduce((a, d) => a * d, 1);
    max = Math.min(max, Math.floor((2 ** 31 - 1) / perImage));
  }
  return max;
}

/** Mean softmax cross-entropy (and log-probabilities) without LogSoftmax or OneHot. */
function crossEntropy(b: GraphBuilder, n: Node, scores: Value, labels: Value): Value[] {
  if ((n.attrs.reduction ?? "mean") !== "mean") throw new Error("internal: WebGPU loss lowering handles mean reduction");
  const classes = scores.shape[1] as number;
  const z = b.op1("Sub", [scores, b.op1("ReduceMax", [scores], { axes: [1], keepdims: 1 })]);
  const lse = b.op1("Log", [b.op1("ReduceSum", [b.op1("Exp", [z]), b.ints([1])], { keepdims: 1 })]);
  const logp = b.op1("Sub", [z, lse], {}, n.outputs[1] ? { outputNames: [n.outputs[1].name] } : {});
  const hot = b.op1("Cast", [b.op1("Equal", [b.op1("Unsqueeze", [labels, b.ints([1])]), b.constant("int64", [1, classes], range(classes))])], { to: DTYPE_CODE[scores.dtype] });
  const total = b.op1("ReduceSum", [b.op1("Mul", [logp, hot])], { keepdims: 0 });
  const count = b.op1("Cast", [b.op1("Size", [labels])], { to: DTYPE_CODE[scores.dtype] });
  const loss = b.op1("Neg", [b.op1("Div", [total, count])], {}, { outputNames: [n.outputs[0].name] });
  return n.outputs[1] ? [loss, logp] : [loss];
}

