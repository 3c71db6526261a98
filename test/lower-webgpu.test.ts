/**
 * The WebGPU lowering computes the same training step as the default graph. Both run on the
 * CPU provider here (this machine has no GPU): same weights, same batch, and the lowered
 * graph is fed the dropout masks the default graph's Dropout nodes drew.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import { model, N, Tensor } from "../src";
import type { ModelDef } from "../src/graph/dsl";
import { GraphBuilder, type Graph } from "../src/graph/ir";
import { uniformInit } from "../src/graph/init";
import { numel } from "../src/graph/types";
import { encodeModel, graphProto, modelProto } from "../src/emit/encode";
import { agreement, formatAgreement, maxAbs } from "./helpers/compare";
import { lowerForWebGpu, WEBGPU_GRADIENTS } from "../src/passes/webgpu";
import { adam } from "../src/train/optim/adam";
import { buildStepGraph } from "../src/train/step";

const small = model(
  { name: "small", input: [N, 1, 28, 28], preprocess: { raw: [1, 28, 28] } },
  (x: Tensor) =>
    x
      .conv2d(8, { kernel: 5, stride: 2, padding: 1 }).relu().maxPool2d(3, { stride: 2 }) // overlapping windows
      .conv2d(8, { kernel: 3, padding: 1 }).relu().maxPool2d(2, { stride: 2, padding: 1 }) // padded
      .flatten()
      .linear(32).relu().dropout(0.5)
      .linear(10),
);

const bytesOf = (g: Graph) => encodeModel(modelProto(graphProto(g)));

/**
 * Runs the default step and the WebGPU-lowered one (built as the trainer builds it: each conv
 * weight gradient one Conv) on the same weights and batch, the lowered one fed the dropout masks
 * the default one drew. Returns both runs' outputs and the names of the step's updated tensors.
 */
async function runBoth(def: ModelDef, images: Uint8Array, labels: BigInt64Array) {
  const sg = buildStepGraph(def, { optimizer: adam(), mode: "inputs", dropoutSeed: 3 });
  const forGpu = buildStepGraph(def, { optimizer: adam(), mode: "inputs", dropoutSeed: 3, gradients: WEBGPU_GRADIENTS });
  const lowered = lowerForWebGpu(forGpu.b.build());
  const defaultGraph = sg.b.build();
  // The default graph also returns its dropout masks, to feed the lowered one.
  const maskValues = sg.b.nodes.filter((n) => n.op === "Dropout").map((n) => n.outputs[1]);
  for (const m of maskValues) sg.b.output(m);
  const B = labels.length;
  const feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor("uint8", images, [B, 1, 28, 28]),
    labels: new ort.Tensor("int64", labels, [B]),
    lr: new ort.Tensor("float32", Float32Array.of(1e-3), []),
    step: new ort.Tensor("int64", BigInt64Array.of(0n), []),
  };
  for (const p of sg.params) feeds[p.name] = new ort.Tensor("float32", uniformInit(0, p.name, numel(p.dims), p.fanIn), [...p.dims]);
  for (const st of sg.state) feeds[st.name] = new ort.Tensor("float32", new Float32Array(numel(st.dims)), [...st.dims]);
  const reference = await ort.InferenceSession.create(bytesOf(sg.b.build()));
  const ref = await reference.run(feeds);
  await reference.release();
  const masks: Record<string, ort.Tensor> = {};
  lowered.masks.forEach((m, i) => (masks[m.name] = ref[maskValues[i].name]));
  const candidate = await ort.InferenceSession.create(bytesOf(lowered.graph));
  const got = await candidate.run({ ...feeds, ...masks });
  await candidate.release();
  return { ref, got, updates: [...sg.updates.values()], lowered, defaultGraph };
}

/** A step output as numbers (the step counter is int64). */
const numbers = (d: Float32Array | BigInt64Array): ArrayLike<number> => (d instanceof BigInt64Array ? Array.from(d, Number) : d);

test("lowered step == default step (values, gradients via Adam state, masks)", async () => {
  const B = 16;
  const images = Uint8Array.from({ length: B * 784 }, (_, i) => (i * 131 + (i >> 7) * 17) % 256);
  const labels = BigInt64Array.from({ length: B }, (_, i) => BigInt((i * 3) % 10));
  const { ref, got, updates, lowered, defaultGraph } = await runBoth(small, images, labels);

  const convGemms = (g: Graph) => g.nodes.filter((n) => n.op === "Gemm" && n.name.includes("Conv")).length;
  expect(convGemms(defaultGraph)).toBe(9); // conv2's 3×3 offsets (8 input channels)
  expect(convGemms(lowered.graph)).toBe(0);
  const ops = new Set(lowered.graph.nodes.map((n) => n.op));
  for (const op of ["Dropout", "OneHot", "LogSoftmax", "SoftmaxCrossEntropyLoss", "Loop"]) expect(ops.has(op)).toBe(false);
  expect(lowered.graph.nodes.filter((n) => n.op === "MaxPool").every((n) => n.outputs.length === 1)).toBe(true);
  expect(lowered.masks.map((m) => m.p)).toEqual([0.5]);

  expect(Number(got.correct.data[0])).toBe(Number(ref.correct.data[0]));
  expect(Math.abs(Number(got.loss.data[0]) - Number(ref.loss.data[0]))).toBeLessThan(1e-6);
  for (const name of updates) {
    const expected = numbers(ref[name].data as Float32Array | BigInt64Array);
    const actual = numbers(got[name].data as Float32Array | BigInt64Array);
    expect(actual.length).toBe(expected.length);
    // Adam state m = 0.1·g exposes the gradients; same kernels on the same CPU, so near-exact:
    // every |Δ| ≤ 1e-6·max(max|ref|, 1e-3), nothing non-finite.
    const a = agreement(actual, expected, 0, 1e-6 * Math.max(maxAbs(expected), 1e-3));
    expect({ name, violations: a.violations }).toEqual({ name, violations: 0 });
  }
});

test("AlexNet: the lowered step's gradients == the default step's (batch 2, dropout live)", async () => {
  const alexnet = (require("../models/alexnet") as { default: ModelDef }).default;
  const B = 2;
  const images = Uint8Array.from({ length: B * 784 }, (_, i) => (i * 89 + (i >> 5) * 7) % 256);
  const { ref, got, updates } = await runBoth(alexnet, images, BigInt64Array.of(3n, 7n));
  expect(Number(got.correct.data[0])).toBe(Number(ref.correct.data[0]));
  expect(Math.abs(Number(got.loss.data[0]) - Number(ref.loss.data[0]))).toBeLessThan(1e-5);
  const moments = updates.filter((name) => name.includes(".adam_m"));
  expect(moments.length).toBe(16);
  const failures: string[] = [];
  for (const name of moments) {
    // m = 0.1·g. The two dW forms sum over up to N·H·W terms in different orders.
    const expected = ref[name].data as Float32Array;
    const a = agreement(got[name].data as Float32Array, expected, 0, 1e-5 * maxAbs(expected));
    if (a.violations > 0) failures.push(`${name}: ${formatAgreement(a)}`);
  }
  expect(failures).toEqual([]);
}, 300_000);

test("lowered MaxPool indices == onnxruntime's, ties and padding included (first maximum in window order)", async () => {
  const cases: Record<string, number[]>[] = [
    { kernel_shape: [3, 3], strides: [2, 2] }, // overlapping windows, as in AlexNet
    { kernel_shape: [2, 3], strides: [1, 2], pads: [1, 0, 0, 2] }, // padded, asymmetric
  ];
  for (const attrs of cases) {
    const b = new GraphBuilder("pool");
    const x = b.input("x", "float32", [N, 3, 7, 8]);
    const [y, indices] = b.op("MaxPool", [x], attrs, { outputs: 2 });
    b.output(y);
    b.output(indices);
    const g = b.build();
    const lowered = lowerForWebGpu(g).graph;
    expect(lowered.nodes.filter((n) => n.op === "MaxPool").every((n) => n.outputs.length === 1)).toBe(true);
    const B = 4;
    // Few distinct values, negatives included: most windows hold their maximum more than once.
    const data = Float32Array.from({ length: B * 3 * 7 * 8 }, (_, i) => ((i * 7919) % 5) - 3);
    const feeds = { x: new ort.Tensor("float32", data, [B, 3, 7, 8]) };
    const ref = await (await ort.InferenceSession.create(bytesOf(g))).run(feeds);
    const got = await (await ort.InferenceSession.create(bytesOf(lowered))).run(feeds);
    expect(Array.from(got[y.name].data as Float32Array)).toEqual(Array.from(ref[y.name].data as Float32Array));
    expect(Array.from(got[indices.name].data as Int32Array)).toEqual(Array.from(ref[indices.name].data as BigInt64Array, Number));
  }
});

// What keeps the lowered step on the GPU, measured on an H200 and an H100 (docs/execution-providers.md):
// onnxruntime's WebGPU provider has no int64 Where/Add, no Or, and runs Size and
// ConstantOfShape on the CPU, each costing a copy of a full activation per step.
test("the lowered step avoids what the WebGPU provider runs on the CPU", () => {
  const step = buildStepGraph(small, { optimizer: adam(), mode: "inputs", dropoutSeed: 3, gradients: WEBGPU_GRADIENTS }).b.build();
  const lowered = lowerForWebGpu(step);
  const ops = lowered.graph.nodes.map((n) => n.op);
  expect(ops).not.toContain("Or");
  expect(ops).not.toContain("ConstantOfShape");
  const large = (v: { shape: readonly (number | string)[] }) => v.shape.length >= 4;
  for (const n of lowered.graph.nodes) {
    if (n.op === "Size") expect(n.inputs.some((v) => v && large(v))).toBe(false);
    if (n.op === "Where" || n.op === "Add") expect(n.outputs.some((o) => o.dtype === "int64" && large(o))).toBe(false);
    // The provider has no bool Transpose, and its NHWC layout pass moves transposes into the
    // pooling-index chain: a full-size bool tensor there became a Transpose on the CPU.
    expect(n.outputs.some((o) => o.dtype === "bool" && large(o))).toBe(false);
  }
  // int32 flat MaxPool indices bound the batch: N·C·H·W < 2³¹ for the largest pooled input (8×13×13).
  expect(lowered.maxBatch).toBe(Math.floor((2 ** 31 - 1) / (8 * 13 * 13)));
});
