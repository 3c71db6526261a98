/**
 * The NCHWc pass (src/passes/nchwc.ts: convolutions on onnxruntime's NCHWc kernels) computes the same training step
 * and the same evaluation as the standard graph, rewrites only the convolutions those kernels
 * accept, and leaves everything else, the exported model included, as it was.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import { model, N, Tensor } from "../src";
import { uniformInit } from "../src/graph/init";
import { makeTensor, numel } from "../src/graph/types";
import { GraphBuilder, type Graph } from "../src/graph/ir";
import { compileModel } from "../src/emit/compile";
import { decodeModel } from "../src/emit/decode";
import { encodeModel } from "../src/emit/encode";
import { sessionBytes } from "../src/emit/session-bytes";
import { nchwc, NCHWC_DOMAIN, nchwcConvCount } from "../src/passes/nchwc";
import { multiStep } from "../src/passes/multi-step";
import { nchwcBlockSize } from "../src/train/nchwc-probe";
import { adam } from "../src/train/optim/adam";
import { programFromOnnx } from "../src/train/program-onnx";
import { modelBytes } from "../src/train/session";
import { buildEvalGraph, buildStepGraph, next, STEP_COUNTER } from "../src/train/step";
import { trainingInfo } from "../src/train/training-info";

// Channel counts that every block size (8 with AVX2, 16 with AVX-512) accepts, plus one layer
// (12 output channels) that neither does.
const small = model(
  { name: "small", input: [N, 1, 28, 28], preprocess: { raw: [1, 28, 28] } },
  (x: Tensor) =>
    x
      .conv2d(16, { kernel: 5, stride: 2, padding: 1 }).relu().maxPool2d(2, { stride: 2 }) // 1 input channel: NCHW input, OIHWBo filter
      .conv2d(32, { kernel: 3, padding: 1 }).relu() // blocked input and filter; its dX conv too
      .conv2d(12, { kernel: 3, padding: 1 }).relu() // not a multiple of the block: left alone
      .flatten()
      .linear(10),
);

const opsOf = (g: Graph) => g.nodes.map((n) => `${n.domain ? `${n.domain}:` : ""}${n.op}`);

function worst(a: ArrayLike<number>, b: ArrayLike<number>): { diff: number; scale: number } {
  let diff = 0;
  let scale = 0;
  for (let i = 0; i < a.length; i++) {
    diff = Math.max(diff, Math.abs(a[i] - b[i]));
    scale = Math.max(scale, Math.abs(a[i]));
  }
  return { diff, scale };
}

function stepFeeds(sg: ReturnType<typeof buildStepGraph>, batch: number, seed: number): Record<string, ort.Tensor> {
  const feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor("uint8", Uint8Array.from({ length: batch * 784 }, (_, i) => (i * 131 + (i >> 7) * 17 + seed) % 256), [batch, 1, 28, 28]),
    labels: new ort.Tensor("int64", BigInt64Array.from({ length: batch }, (_, i) => BigInt((i * 3 + seed) % 10)), [batch]),
    lr: new ort.Tensor("float32", Float32Array.of(1e-3), []),
    step: new ort.Tensor("int64", BigInt64Array.of(0n), []),
  };
  for (const p of sg.params) feeds[p.name] = new ort.Tensor("float32", uniformInit(0, p.name, numel(p.dims), p.fanIn), [...p.dims]);
  for (const s of sg.state) feeds[s.name] = new ort.Tensor("float32", new Float32Array(numel(s.dims)), [...s.dims]);
  return feeds;
}

test("this machine's onnxruntime has NCHWc kernels (block 8 or 16)", async () => {
  expect([8, 16]).toContain(await nchwcBlockSize());
});

test("lowered step == standard step: loss, correct count, gradients, updates", async () => {
  const B = await nchwcBlockSize();
  const sg = buildStepGraph(small, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 });
  const graph = sg.b.build();
  const lowered = nchwc(B)(graph);
  // Forward: conv1 (NCHW input), conv2; backward: conv2's dX (32 → 16 channels). conv3 (12
  // output channels) stays standard, and so does conv3's dX (12 → 32 channels) with blocks of 8;
  // with blocks of 16 its 12 input channels are fewer than a block, which the kernels accept.
  // conv1 needs no dX. The Relu after each rewritten forward conv is fused.
  const expected = B === 16 ? 4 : 3;
  expect(nchwcConvCount(lowered)).toBe(expected);
  const ops = opsOf(lowered);
  expect(ops.filter((o) => o === `${NCHWC_DOMAIN}:Conv`)).toHaveLength(expected);
  expect(ops.filter((o) => o === "Conv").length).toBe(opsOf(graph).filter((o) => o === "Conv").length - expected);
  expect(ops.filter((o) => o === "Relu").length).toBe(opsOf(graph).filter((o) => o === "Relu").length - 2);
  expect(ops.filter((o) => o === `${NCHWC_DOMAIN}:ReorderInput`)).toHaveLength(2); // not for the 1-channel input

  const reference = await ort.InferenceSession.create(sessionBytes(graph));
  const candidate = await ort.InferenceSession.create(sessionBytes(lowered));
  const feeds = stepFeeds(sg, 16, 0);
  const ref = await reference.run(feeds);
  const got = await candidate.run(feeds);
  expect(Number(got.correct.data[0])).toBe(Number(ref.correct.data[0]));
  expect(Math.abs(Number(got.loss.data[0]) - Number(ref.loss.data[0]))).toBeLessThan(1e-5 * Math.abs(Number(ref.loss.data[0])));
  const state = new Set(sg.state.map((t) => t.name));
  for (const [name, out] of sg.updates) {
    if (name === "step") continue;
    const a = ref[out].data as Float32Array;
    const b = got[out].data as Float32Array;
    if (state.has(name)) {
      // Adam's moments (m = 0.1·g, v = 0.001·g²): the gradients agree to summation order.
      const { diff, scale } = worst(a, b);
      expect(diff).toBeLessThanOrEqual(1e-5 * Math.max(scale, 1e-12));
    } else {
      // A first Adam step moves p by lr·g/(|g| + ε): ≈ lr wherever |g| ≫ ε, ill-conditioned
      // where |g| is near ε, so the comparison skips gradients below 1e-6.
      const m = ref[next(`${name}.adam_m`)].data as Float32Array;
      let diff = 0;
      for (let i = 0; i < a.length; i++) if (Math.abs(m[i]) >= 1e-7) diff = Math.max(diff, Math.abs(a[i] - b[i]));
      expect(diff).toBeLessThanOrEqual(1e-5 * 1e-3); // 1e-5 of lr: about one rounding of p
    }
  }
});

test("lowered evaluation == standard evaluation (weights as inputs)", async () => {
  const B = await nchwcBlockSize();
  const graph = buildEvalGraph(small).build();
  const bytes = sessionBytes(graph);
  const lowered = nchwc(B)(graph);
  expect(nchwcConvCount(lowered)).toBe(2);
  const sg = buildStepGraph(small, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 });
  const feeds = stepFeeds(sg, 8, 5);
  const inputs = (await ort.InferenceSession.create(bytes)).inputNames;
  const subset = Object.fromEntries(inputs.map((n) => [n, feeds[n]]));
  const ref = await (await ort.InferenceSession.create(bytes)).run(subset);
  const got = await (await ort.InferenceSession.create(sessionBytes(lowered))).run(subset);
  const { diff, scale } = worst(ref.logits.data as Float32Array, got.logits.data as Float32Array);
  expect(diff).toBeLessThanOrEqual(1e-5 * scale);
  expect(Number(got.correct.data[0])).toBe(Number(ref.correct.data[0]));
});

test("a lowered step runs inside the K-steps Loop", async () => {
  const B = await nchwcBlockSize();
  const sg = buildStepGraph(small, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 });
  const single = nchwc(B)(sg.b.build());
  const feeds = stepFeeds(sg, 8, 1);
  const { images, labels, ...rest } = feeds;
  const looped = await (await ort.InferenceSession.create(sessionBytes(multiStep({ counter: STEP_COUNTER, next })(single)))).run({
    ...rest,
    images_all: new ort.Tensor("uint8", images.data as Uint8Array, [1, ...images.dims]),
    labels_all: new ort.Tensor("int64", labels.data as BigInt64Array, [1, ...labels.dims]),
  });
  const once = await (await ort.InferenceSession.create(sessionBytes(single))).run(feeds);
  expect((looped.losses.data as Float32Array)[0]).toBe((once.loss.data as Float32Array)[0]);
  expect(Array.from(looped[next("conv2.weight")].data as Float32Array)).toEqual(Array.from(once[next("conv2.weight")].data as Float32Array));
});

test("only convolutions the NCHWc kernels accept are rewritten", () => {
  const conv = (cin: number, cout: number, attrs: Record<string, number | number[]> = {}, constantWeight = false) => {
    const b = new GraphBuilder("g");
    const x = b.input("x", "float32", [N, cin, 8, 8]);
    const dims = [cout, cin / ((attrs.group as number) ?? 1), 3, 3];
    const w = constantWeight ? b.initializer(makeTensor("w", "float32", dims, Array(numel(dims)).fill(0))) : b.input("w", "float32", dims);
    b.output(b.op1("Conv", [x, w], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], ...attrs }), "y");
    return nchwcConvCount(nchwc(8)(b.build()));
  };
  expect(conv(16, 32)).toBe(1);
  expect(conv(3, 32)).toBe(1); // fewer input channels than the block: NCHW input
  expect(conv(12, 32)).toBe(0); // input channels neither below nor a multiple of the block
  expect(conv(16, 12)).toBe(0); // output channels not a multiple of the block
  expect(conv(16, 32, { group: 2 })).toBe(0);
  expect(conv(16, 32, {}, true)).toBe(0); // constant weights: onnxruntime's own transformer's job
  // No NCHWc kernels on this machine: the graph is returned as it came.
  const b = new GraphBuilder("g");
  b.output(b.op1("Conv", [b.input("x", "float32", [N, 16, 8, 8]), b.input("w", "float32", [32, 16, 3, 3])], { kernel_shape: [3, 3] }), "y");
  const graph = b.build();
  expect(nchwc(1)(graph)).toBe(graph);
});

test("a built .onnx (training_info) gets the same rewrites for its step and its evaluation", () => {
  const built = compileModel(small, { seed: 0, trainingInfo: (d, s) => trainingInfo(d, adam(), s) });
  const program = programFromOnnx(decodeModel(encodeModel(built), "small.onnx"), "small.onnx");
  expect(nchwcConvCount(nchwc(8)(program.loweredStepGraph("dropout").graph))).toBe(3);
  expect(nchwcConvCount(nchwc(8)(program.evalGraph()))).toBe(2);
});
