/**
 * Finite-difference check of every VJP rule (JAX check_grads style). For each spec we build
 * y = op(inputs), loss = Σ y·R for a fixed random R, and ask `gradients()` for d loss/d input.
 * A second, value-only session computes f = loss; along random directions d the directional
 * derivative <grad, d> must match the central difference (f(x+εd) − f(x−εd)) / 2ε.
 * float64 graphs where onnxruntime-node's CPU kernels have double (and the gradient graph's
 * kernels too); float32 with looser tolerances otherwise (Conv, pooling: the VJPs use
 * ConvTranspose / ScatterElements). Bilinear ops (Conv, Gemm, MatMul, Mul) make f quadratic
 * along d, so the central difference is exact up to rounding and a large ε is fine.
 * Inputs avoid kinks: ReLU/Abs inputs are away from 0, pooling inputs are distinct values.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../src/graph/ir";
import { DType, numel, Value } from "../src/graph/types";
import type { GradientOptions } from "../src/graph/op";
import { batchNormTraining } from "../src/graph/ops/batchnorm";
import { gradients } from "../src/train/autodiff";
import { adam } from "../src/train/optim/adam";
import { crossEntropyLoss } from "../src/train/loss";
import { buildStepGraph } from "../src/train/step";
import alexnet from "../models/alexnet";
import { FloatKind, floatTensor, normals, prng, sessionOf } from "./helpers/train-fd";

type Gen = (rand: () => number, n: number) => number[];

interface InputSpec {
  readonly name: string;
  readonly shape: readonly number[];
  readonly gen?: Gen;
  /** Differentiate with respect to it (default true). */
  readonly wrt?: boolean;
}

interface Spec {
  readonly name: string;
  readonly dtype: FloatKind;
  readonly inputs: readonly InputSpec[];
  readonly build: (b: GraphBuilder, xs: Value[], dtype: FloatKind) => Value;
  /** Step ε (default 1e-5 for float64, 1e-2 for float32). */
  readonly eps?: number;
  /** Relative tolerance (default 1e-6 for float64, 2e-3 for float32). */
  readonly tol?: number;
  /** The gradient formulations to check (GradientOptions; default: the default ones). */
  readonly gradients?: GradientOptions;
}

const awayFromZero: Gen = (rand, n) => normals(rand, n).map((v) => Math.sign(v || 1) * (0.3 + Math.abs(v)));
const positive: Gen = (rand, n) => Array.from({ length: n }, () => 0.5 + 2 * rand());
/** Distinct values 0.1 apart in random order (no pooling ties, no ReLU near 0 at ε ≤ 1e-3). */
const distinct: Gen = (rand, n) => {
  const vals = Array.from({ length: n }, (_, i) => (i - n / 2 + 0.5) * 0.1);
  for (let i = n - 1; i > 0; i--) {
    const j = Math.floor(rand() * (i + 1));
    [vals[i], vals[j]] = [vals[j], vals[i]];
  }
  return vals;
};

const F64 = "float64" as const;
const F32 = "float32" as const;
const unary = (op: string, dtype: FloatKind, gen?: Gen): Spec => ({
  name: op,
  dtype,
  inputs: [{ name: "x", shape: [3, 4], gen }],
  build: (b, [x]) => b.op1(op, [x]),
});
const binary = (op: string, a: readonly number[], c: readonly number[], gen?: Gen): Spec => ({
  name: `${op} ${JSON.stringify(a)}∘${JSON.stringify(c)}`,
  dtype: F64,
  inputs: [
    { name: "a", shape: a },
    { name: "b", shape: c, gen },
  ],
  build: (b, [x, y]) => b.op1(op, [x, y]),
});

const SPECS: Spec[] = [
  {
    name: "Conv stride 1, pad 1, bias",
    dtype: F32,
    eps: 0.1,
    inputs: [
      { name: "x", shape: [2, 3, 6, 6] },
      { name: "w", shape: [4, 3, 3, 3] },
      { name: "bias", shape: [4] },
    ],
    build: (b, [x, w, bias]) => b.op1("Conv", [x, w, bias], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }),
  },
  {
    name: "Conv stride 2, pad 2, 5x5, bias",
    dtype: F32,
    eps: 0.1,
    inputs: [
      { name: "x", shape: [2, 2, 9, 9] },
      { name: "w", shape: [3, 2, 5, 5] },
      { name: "bias", shape: [3] },
    ],
    build: (b, [x, w, bias]) => b.op1("Conv", [x, w, bias], { kernel_shape: [5, 5], strides: [2, 2], pads: [2, 2, 2, 2] }),
  },
  {
    name: "Conv stride 2, no pad, even input (dropped rows)",
    dtype: F32,
    eps: 0.1,
    inputs: [
      { name: "x", shape: [1, 2, 8, 8] },
      { name: "w", shape: [2, 2, 3, 3] },
    ],
    build: (b, [x, w]) => b.op1("Conv", [x, w], { kernel_shape: [3, 3], strides: [2, 2] }),
  },
  {
    // Cin ≥ 8: dW takes the per-offset GEMM form (src/graph/ops/conv.ts), not the batched Conv
    name: "Conv with 8 input channels (GEMM-form dW), stride 1, pad 1, bias",
    dtype: F32,
    eps: 0.1,
    inputs: [
      { name: "x", shape: [2, 8, 5, 5] },
      { name: "w", shape: [3, 8, 3, 3] },
      { name: "bias", shape: [3] },
    ],
    build: (b, [x, w, bias]) => b.op1("Conv", [x, w, bias], { kernel_shape: [3, 3], strides: [1, 1], pads: [1, 1, 1, 1] }),
  },
  {
    name: "Conv with 8 input channels (GEMM-form dW), stride 2, pads 1/0, no bias",
    dtype: F32,
    eps: 0.1,
    inputs: [
      { name: "x", shape: [1, 8, 7, 6] },
      { name: "w", shape: [2, 8, 3, 2] },
    ],
    build: (b, [x, w]) => b.op1("Conv", [x, w], { kernel_shape: [3, 2], strides: [2, 2], pads: [1, 0, 1, 0] }),
  },
  {
    name: "Conv with 8 input channels (GEMM-form dW), dilation 2, pads 2/1, non-square input, bias",
    dtype: F32,
    eps: 0.1,
    inputs: [
      { name: "x", shape: [2, 8, 7, 5] },
      { name: "w", shape: [3, 8, 3, 2] },
      { name: "bias", shape: [3] },
    ],
    build: (b, [x, w, bias]) => b.op1("Conv", [x, w, bias], { kernel_shape: [3, 2], dilations: [2, 2], pads: [2, 1, 1, 0] }),
  },
  {
    // 64 channels: the Winograd form applies (ops/conv-weight-grad-winograd.ts), F(4, 3) for 6×6
    name: "Conv 64 → 64, 3×3, pad 1 (Winograd-form dW)",
    dtype: F32,
    eps: 0.1,
    gradients: { convWeightGrad: "winograd" },
    inputs: [
      { name: "x", shape: [2, 64, 6, 6] },
      { name: "w", shape: [64, 64, 3, 3] },
    ],
    build: (b, [x, w]) => b.op1("Conv", [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
  },
  {
    name: "Conv 64 → 72, 5×5, pads 2/1, non-square input, bias (Winograd-form dW, overhanging tiles)",
    dtype: F32,
    eps: 0.1,
    gradients: { convWeightGrad: "winograd" },
    inputs: [
      { name: "x", shape: [2, 64, 7, 5] },
      { name: "w", shape: [72, 64, 5, 5] },
      { name: "bias", shape: [72] },
    ],
    build: (b, [x, w, bias]) => b.op1("Conv", [x, w, bias], { kernel_shape: [5, 5], pads: [2, 1, 1, 2] }),
  },
  {
    // F(3, 3) on 6×6: 4·2·2·(25·(2·64 + 2·64) + 9·64) = 111616 bytes of transforms per image. Sized
    // for 6 images within 2.5 images' bytes: 3 slices of ⌈N/3⌉; a batch of 4 leaves the third
    // slice past the end (it repeats the last image, which must count zero).
    name: "Conv 64 → 64, 3×3 (Winograd-form dW in batch slices, one past the end)",
    dtype: F32,
    eps: 0.1,
    gradients: { convWeightGrad: "winograd", batch: 6, winogradSliceBytes: 2.5 * 111616 },
    inputs: [
      { name: "x", shape: [4, 64, 6, 6] },
      { name: "w", shape: [64, 64, 3, 3] },
    ],
    build: (b, [x, w]) => b.op1("Conv", [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1] }),
  },
  {
    name: "Gemm transB=0 with bias",
    dtype: F64,
    inputs: [
      { name: "a", shape: [3, 4] },
      { name: "w", shape: [4, 5] },
      { name: "c", shape: [5] },
    ],
    build: (b, [a, w, c]) => b.op1("Gemm", [a, w, c], { transB: 0 }),
  },
  {
    name: "Gemm transB=1 with bias",
    dtype: F64,
    inputs: [
      { name: "a", shape: [3, 4] },
      { name: "w", shape: [5, 4] },
      { name: "c", shape: [5] },
    ],
    build: (b, [a, w, c]) => b.op1("Gemm", [a, w, c], { transB: 1 }),
  },
  {
    name: "MatMul",
    dtype: F64,
    inputs: [
      { name: "a", shape: [3, 4] },
      { name: "b", shape: [4, 2] },
    ],
    build: (b, [x, y]) => b.op1("MatMul", [x, y]),
  },
  {
    name: "MatMul batched [2,3,4]·[4,5]",
    dtype: F64,
    inputs: [
      { name: "a", shape: [2, 3, 4] },
      { name: "b", shape: [4, 5] },
    ],
    build: (b, [x, y]) => b.op1("MatMul", [x, y]),
  },
  {
    name: "MatMul batched, broadcast batch dims [2,1,3,4]·[5,4,2]",
    dtype: F64,
    inputs: [
      { name: "a", shape: [2, 1, 3, 4] },
      { name: "b", shape: [5, 4, 2] },
    ],
    build: (b, [x, y]) => b.op1("MatMul", [x, y]),
  },
  {
    name: "Concat axis 1, three inputs",
    dtype: F64,
    inputs: [
      { name: "a", shape: [2, 3, 2] },
      { name: "b", shape: [2, 1, 2] },
      { name: "c", shape: [2, 4, 2] },
    ],
    build: (b, [x, y, z]) => b.op1("Concat", [x, y, z], { axis: 1 }),
  },
  {
    name: "Concat axis -1, one input without gradient",
    dtype: F64,
    inputs: [
      { name: "a", shape: [3, 2] },
      { name: "b", shape: [3, 5], wrt: false },
      { name: "c", shape: [3, 1] },
    ],
    build: (b, [x, y, z]) => b.op1("Concat", [x, y, z], { axis: -1 }),
  },
  unary("Relu", F64, awayFromZero),
  unary("Sigmoid", F64),
  unary("Tanh", F64),
  unary("Exp", F64),
  unary("Log", F64, positive),
  unary("Sqrt", F64, positive),
  unary("Neg", F64),
  unary("Abs", F64, awayFromZero),
  binary("Add", [2, 3], [2, 3]),
  binary("Add", [2, 3], [3]),
  binary("Add", [2, 1, 4], [3, 1]),
  binary("Sub", [2, 3], [3]),
  binary("Sub", [3], [2, 3]),
  binary("Mul", [2, 3], [2, 3]),
  binary("Mul", [2, 3], [1, 3]),
  binary("Div", [2, 3], [2, 3], positive),
  binary("Div", [2, 3], [3], positive),
  binary("Div", [3], [2, 3], positive),
  {
    name: "Where (broadcast branches)",
    dtype: F64,
    inputs: [
      { name: "x", shape: [2, 3] },
      { name: "y", shape: [3] },
    ],
    build: (b, [x, y]) => b.op1("Where", [b.constant("bool", [2, 3], [1, 0, 1, 0, 0, 1]), x, y]),
  },
  {
    name: "MaxPool 3/2 overlapping",
    dtype: F32,
    eps: 1e-3,
    tol: 5e-3,
    inputs: [{ name: "x", shape: [2, 2, 7, 7], gen: distinct }],
    build: (b, [x]) => b.op1("MaxPool", [x], { kernel_shape: [3, 3], strides: [2, 2] }),
  },
  {
    name: "composite: Relu → MaxPool 3/2 (the pool applies the Relu's mask)",
    dtype: F32,
    eps: 1e-3,
    tol: 5e-3,
    // Mostly negative: windows with no positive value (pooled 0) must pass no gradient.
    inputs: [{ name: "x", shape: [2, 2, 7, 7], gen: (rand, n) => distinct(rand, n).map((v) => v - 6) }],
    build: (b, [x]) => b.op1("MaxPool", [b.op1("Relu", [x])], { kernel_shape: [3, 3], strides: [2, 2] }),
  },
  {
    name: "composite: Relu → MaxPool and Relu → Tanh (fan-in: the Relu masks the sum)",
    dtype: F32,
    eps: 1e-3,
    tol: 5e-3,
    inputs: [{ name: "x", shape: [2, 2, 7, 7], gen: (rand, n) => distinct(rand, n).map((v) => v - 6) }],
    build: (b, [x]) => {
      const r = b.op1("Relu", [x]);
      const pooled = b.op1("MaxPool", [r], { kernel_shape: [3, 3], strides: [2, 2] });
      return b.op1("Add", [pooled, b.op1("ReduceSum", [b.op1("Tanh", [r])], { keepdims: 0 })]);
    },
  },
  {
    name: "AveragePool 2/2",
    dtype: F32,
    eps: 0.1,
    inputs: [{ name: "x", shape: [2, 3, 6, 6] }],
    build: (b, [x]) => b.op1("AveragePool", [x], { kernel_shape: [2, 2], strides: [2, 2] }),
  },
  {
    name: "GlobalAveragePool",
    dtype: F32,
    eps: 0.1,
    inputs: [{ name: "x", shape: [2, 3, 3, 4] }],
    build: (b, [x]) => b.op1("GlobalAveragePool", [x]),
  },
  {
    name: "ReduceMean axes [0, 2] keepdims 1",
    dtype: F64,
    inputs: [{ name: "x", shape: [2, 3, 4] }],
    build: (b, [x]) => b.op1("ReduceMean", [x], { axes: [0, 2], keepdims: 1 }),
  },
  {
    name: "ReduceMean axes [1] keepdims 0",
    dtype: F64,
    inputs: [{ name: "x", shape: [2, 3, 4] }],
    build: (b, [x]) => b.op1("ReduceMean", [x], { axes: [1], keepdims: 0 }),
  },
  {
    name: "BatchNormalization (inference form: running statistics held constant)",
    dtype: F64,
    inputs: [
      { name: "x", shape: [2, 3, 2, 2] },
      { name: "scale", shape: [3] },
      { name: "bias", shape: [3] },
      { name: "mean", shape: [3], wrt: false },
      { name: "var", shape: [3], gen: positive, wrt: false },
    ],
    build: (b, xs) => b.op1("BatchNormalization", xs, { epsilon: 1e-5 }),
  },
  {
    // The training step's BatchNorm (ops/batchnorm.ts): batch statistics, through the
    // primitives' rules (ReduceMean, Sub, Mul, Sqrt, Div); the running statistics take no gradient.
    name: "composite: training-mode BatchNorm over [N, C, H, W]",
    dtype: F64,
    inputs: [
      { name: "x", shape: [3, 2, 2, 3] },
      { name: "scale", shape: [2] },
      { name: "bias", shape: [2] },
      { name: "mean", shape: [2], wrt: false },
      { name: "var", shape: [2], gen: positive, wrt: false },
    ],
    build: (b, xs) => batchNormTraining(b, xs, { epsilon: 1e-5, momentum: 0.1 }).y,
  },
  {
    name: "composite: training-mode BatchNorm over [N, C] (batchNorm1d)",
    dtype: F64,
    inputs: [
      { name: "x", shape: [4, 3] },
      { name: "scale", shape: [3] },
      { name: "bias", shape: [3] },
      { name: "mean", shape: [3], wrt: false },
      { name: "var", shape: [3], gen: positive, wrt: false },
    ],
    build: (b, xs) => batchNormTraining(b, xs, { epsilon: 1e-5, momentum: 0.1 }).y,
  },
  {
    name: "Flatten",
    dtype: F64,
    inputs: [{ name: "x", shape: [2, 3, 2, 2] }],
    build: (b, [x]) => b.op1("Flatten", [x], { axis: 1 }),
  },
  {
    name: "Reshape",
    dtype: F64,
    inputs: [{ name: "x", shape: [2, 3, 4] }],
    build: (b, [x]) => b.op1("Reshape", [x, b.ints([4, -1])]),
  },
  {
    name: "Transpose",
    dtype: F64,
    inputs: [{ name: "x", shape: [2, 3, 4] }],
    build: (b, [x]) => b.op1("Transpose", [x], { perm: [2, 0, 1] }),
  },
  {
    name: "ReduceSum axes [1] keepdims 0",
    dtype: F64,
    inputs: [{ name: "x", shape: [2, 3, 4] }],
    build: (b, [x]) => b.op1("ReduceSum", [x, b.ints([1])], { keepdims: 0 }),
  },
  {
    name: "ReduceSum axes [0,2] keepdims 1",
    dtype: F64,
    inputs: [{ name: "x", shape: [2, 3, 4] }],
    build: (b, [x]) => b.op1("ReduceSum", [x, b.ints([0, 2])], { keepdims: 1 }),
  },
  {
    name: "Softmax axis 1",
    dtype: F64,
    inputs: [{ name: "x", shape: [3, 5] }],
    build: (b, [x]) => b.op1("Softmax", [x], { axis: 1 }),
  },
  {
    name: "LogSoftmax axis 1",
    dtype: F64,
    inputs: [{ name: "x", shape: [3, 5] }],
    build: (b, [x]) => b.op1("LogSoftmax", [x], { axis: 1 }),
  },
  {
    // float32: the VJP's OneHot has no float64-values kernel in onnxruntime's CPU provider.
    name: "SoftmaxCrossEntropyLoss (mean, with log_prob output)",
    dtype: F32,
    eps: 1e-2,
    tol: 2e-3,
    inputs: [{ name: "x", shape: [4, 5] }],
    build: (b, [x]) => b.op("SoftmaxCrossEntropyLoss", [x, b.constant("int64", [4], [0, 3, 4, 1])], { reduction: "mean" }, { outputs: 2 })[0],
  },
  {
    name: "SoftmaxCrossEntropyLoss (mean, loss only)",
    dtype: F32,
    eps: 1e-2,
    tol: 2e-3,
    inputs: [{ name: "x", shape: [4, 5] }],
    build: (b, [x]) => b.op1("SoftmaxCrossEntropyLoss", [x, b.constant("int64", [4], [2, 2, 0, 4])], { reduction: "mean" }),
  },
  {
    // The training loss with label smoothing (src/train/loss.ts): SoftmaxCrossEntropyLoss and
    // LogSoftmax → ReduceSum → Mul → Div by the batch size read from the labels, summed.
    name: "cross-entropy with label smoothing 0.1 (loss.ts)",
    dtype: F32,
    eps: 1e-2,
    tol: 2e-3,
    inputs: [{ name: "x", shape: [4, 5] }],
    build: (b, [x]) => crossEntropyLoss(b, x, b.constant("int64", [4], [0, 3, 4, 1]), 0.1, "smoothed"),
  },
  {
    name: "composite: Gemm → Relu → Softmax (fan-in through two paths)",
    dtype: F64,
    inputs: [
      { name: "a", shape: [3, 4] },
      { name: "w", shape: [5, 4] },
    ],
    build: (b, [a, w]) => {
      const h = b.op1("Gemm", [a, w], { transB: 1 });
      return b.op1("Add", [b.op1("Softmax", [h], { axis: 1 }), b.op1("Tanh", [h])]);
    },
  },
];

function seedOf(name: string): number {
  let h = 2166136261;
  for (const ch of name) h = Math.imul(h ^ ch.charCodeAt(0), 16777619);
  return h >>> 0;
}

function staticShape(v: Value): number[] {
  if (!v.shape.every((d) => typeof d === "number")) throw new Error(`test: '${v.name}' has a symbolic shape`);
  return v.shape as number[];
}

/** loss = Σ y·R, with R a graph input of y's shape. */
function lossOf(b: GraphBuilder, y: Value): Value {
  const r = b.input("R", y.dtype as DType, y.shape);
  const prod = b.op1("Mul", [y, r]);
  return y.shape.length === 0 ? prod : b.op1("ReduceSum", [prod], { keepdims: 0 });
}

async function checkSpec(spec: Spec): Promise<void> {
  const dtype = spec.dtype;
  const eps = spec.eps ?? (dtype === F64 ? 1e-5 : 1e-2);
  const tol = spec.tol ?? (dtype === F64 ? 1e-6 : 2e-3);
  const rand = prng(seedOf(spec.name));
  const values = spec.inputs.map((i) => (i.gen ?? ((r, n) => normals(r, n)))(rand, numel(i.shape)));

  const gb = new GraphBuilder("grad");
  const gx = spec.inputs.map((i) => gb.input(i.name, dtype, i.shape));
  const gy = spec.build(gb, gx, dtype);
  const wrt = gx.filter((_, k) => spec.inputs[k].wrt !== false);
  const grads = gradients(gb, lossOf(gb, gy), wrt, spec.gradients);
  // The same value may be the gradient of several inputs (Add: dA = dB = dY); output it once
  // (GraphBuilder.output renames an unread value in place, so a second output of the old
  // handle would dangle — see the report).
  const outName = new Map<string, string>();
  const gradNames = grads.map((g, k) => {
    expect(g.shape).toEqual(wrt[k].shape);
    const seen = outName.get(g.name);
    if (seen) return seen;
    outName.set(g.name, `grad_${k}`);
    gb.output(g, `grad_${k}`);
    return `grad_${k}`;
  });

  const vb = new GraphBuilder("value");
  const vx = spec.inputs.map((i) => vb.input(i.name, dtype, i.shape));
  const vy = spec.build(vb, vx, dtype);
  vb.output(lossOf(vb, vy), "loss");

  const rValues = normals(rand, numel(staticShape(gy)));
  const feeds = (xs: number[][]): Record<string, ort.Tensor> => {
    const f: Record<string, ort.Tensor> = { R: floatTensor(dtype, rValues, staticShape(gy)) };
    spec.inputs.forEach((i, k) => (f[i.name] = floatTensor(dtype, xs[k], i.shape)));
    return f;
  };
  const gs = await sessionOf(gb);
  const vs = await sessionOf(vb);
  try {
    const gout = await gs.run(feeds(values));
    const g = gradNames.map((n) => Array.from(gout[n].data as Float64Array | Float32Array));
    const f = async (xs: number[][]) => Number((await vs.run(feeds(xs))).loss.data[0]);
    for (let dir = 0; dir < 3; dir++) {
      const d = spec.inputs.map((i) => (i.wrt === false ? new Array<number>(numel(i.shape)).fill(0) : normals(rand, numel(i.shape))));
      const wrtIdx = spec.inputs.flatMap((i, k) => (i.wrt === false ? [] : [k]));
      let gd = 0;
      wrtIdx.forEach((k, j) => g[j].forEach((v, e) => (gd += v * d[k][e])));
      const shifted = (s: number) => values.map((xs, k) => xs.map((v, e) => v + s * eps * d[k][e]));
      const fd = ((await f(shifted(1))) - (await f(shifted(-1)))) / (2 * eps);
      const err = Math.abs(gd - fd);
      if (!(err <= tol * Math.max(1, Math.abs(fd), Math.abs(gd)))) {
        throw new Error(`${spec.name}: direction ${dir}: <grad,d> = ${gd}, finite difference = ${fd} (|err| ${err}, tol ${tol})`);
      }
    }
  } finally {
    await gs.release();
    await vs.release();
  }
}

describe("VJP rules match finite differences", () => {
  test.each(SPECS.map((s) => [s.name, s] as const))("%s", async (_name, spec) => {
    await checkSpec(spec);
  });

  test("Dropout (training mode, fixed seed): gradient = R·mask/(1−p) for the session's own mask", async () => {
    // The mask is random, so a second session's f would see another mask: instead check that
    // Y = X·mask/(1−p) (the mask output is the one used) and that dX = R·mask/(1−p).
    const p = 0.5;
    const shape = [4, 8];
    const b = new GraphBuilder("dropout");
    const x = b.input("x", "float32", shape);
    const [y, mask] = b.op("Dropout", [x, b.scalar(p), b.constant("bool", [], [1])], { seed: 7 }, { outputs: 2 });
    const [gx] = gradients(b, lossOf(b, y), [x]);
    b.output(y, "y");
    b.output(b.op1("Identity", [mask]), "mask");
    b.output(gx, "gx");
    const rand = prng(42);
    const xs = awayFromZero(rand, 32);
    const rs = normals(rand, 32);
    const s = await sessionOf(b);
    try {
      const out = await s.run({ x: floatTensor("float32", xs, shape), R: floatTensor("float32", rs, shape) });
      const m: number[] = Array.from(out.mask.data as ArrayLike<unknown>, (v): number => (v ? 1 : 0));
      const kept = m.reduce((a, v) => a + v, 0);
      expect(kept).toBeGreaterThan(0);
      expect(kept).toBeLessThan(32);
      const ys = Array.from(out.y.data as Float32Array);
      const gs = Array.from(out.gx.data as Float32Array);
      m.forEach((k, e) => {
        expect(ys[e]).toBeCloseTo((xs[e] * k) / (1 - p), 5);
        expect(gs[e]).toBeCloseTo((rs[e] * k) / (1 - p), 5);
      });
    } finally {
      await s.release();
    }
  });

  test("AlexNet's step reads each pooled Relu's output only in its MaxPool (the mask is taken on the pooled tensor)", () => {
    // Not even a Shape: the pool's scatter zeros are shaped from dY's batch (GradientOptions.poolScatterZeros),
    // so onnxruntime can free the Relu's output right after the pool reads it.
    const { b } = buildStepGraph(alexnet, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 });
    const nodes = b.build().nodes;
    const pooledRelus = nodes.filter((n) => n.op === "Relu" && nodes.some((m) => m.op === "MaxPool" && m.inputs[0]?.name === n.outputs[0].name));
    expect(pooledRelus).toHaveLength(3);
    for (const relu of pooledRelus) {
      expect(nodes.filter((n) => n.inputs.some((v) => v?.name === relu.outputs[0].name)).map((n) => n.op)).toEqual(["MaxPool"]);
    }
  });
});
