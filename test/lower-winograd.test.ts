/**
 * The Winograd pass (src/passes/winograd.ts): its transforms against Lavin & Gray's
 * published F(4, 3) and against direct correlation in float64, its convolutions against
 * onnxruntime's Conv, a whole training step against the direct one, which convolutions it takes,
 * and the trainer's switch.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import { model, N, Tensor } from "../src";
import type { ModelDef } from "../src/graph/dsl";
import { GraphBuilder, type Graph } from "../src/graph/ir";
import { uniformInit } from "../src/graph/init";
import { makeTensor, numel } from "../src/graph/types";
import { sessionBytes } from "../src/emit/session-bytes";
import { cpuPasses } from "../src/passes/cpu";
import { runPasses } from "../src/passes/run";
import { cpuStepGradients, winograd as winogradPass, winogradConvCount } from "../src/passes/winograd";
import { nchwcBlockSize } from "../src/train/nchwc-probe";
import { batchFeeds, maskFeeds, stateFeeds } from "../scripts/bench/step-feeds";
import { chooseTile, MIN_CHANNELS, winogradTransforms } from "../src/graph/winograd";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import { buildStepGraph, next } from "../src/train/step";
import { cpuTarget } from "../src/train/targets/cpu";
import { train, type TrainConfig } from "../src/train/trainer";
import { agreement } from "./helpers/compare";
import { makeTmpDir } from "./helpers/tmp";
import { syntheticSplit } from "./helpers/train-idx";

/** A deterministic pseudo-random sequence in [-1, 1). */
function noise(count: number, seed: number): number[] {
  let s = seed * 2654435761 + 1;
  return Array.from({ length: count }, () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s / 2 ** 31 - 1;
  });
}

test("F(4, 3) by Toom-Cook is Lavin & Gray's (their paper's matrices, typed in)", () => {
  const { BT, G, AT } = winogradTransforms(4, 3);
  const paper = {
    BT: [
      [4, 0, -5, 0, 1, 0],
      [0, -4, -4, 1, 1, 0],
      [0, 4, -4, -1, 1, 0],
      [0, -2, -1, 2, 1, 0],
      [0, 2, -1, -2, 1, 0],
      [0, 4, 0, -5, 0, 1],
    ],
    G: [
      [1 / 4, 0, 0],
      [-1 / 6, -1 / 6, -1 / 6],
      [-1 / 6, 1 / 6, -1 / 6],
      [1 / 24, 1 / 12, 1 / 6],
      [1 / 24, -1 / 12, 1 / 6],
      [0, 0, 1],
    ],
    AT: [
      [1, 1, 1, 1, 1, 0],
      [0, 1, -1, 2, -2, 0],
      [0, 1, 1, 4, 4, 0],
      [0, 1, -1, 8, -8, 1],
    ],
  };
  for (const [got, want] of [[BT, paper.BT], [G, paper.G], [AT, paper.AT]]) {
    expect(got.length).toBe(want.length);
    got.forEach((row, i) => row.forEach((v, j) => expect(v).toBeCloseTo(want[i][j], 12)));
  }
});

test("every F(m, r) the pass can choose computes a correlation (1-D, float64)", () => {
  for (const r of [3, 5]) {
    for (let m = 2; m + r - 1 <= 7; m++) {
      const { BT, G, AT } = winogradTransforms(m, r);
      const alpha = m + r - 1;
      const d = noise(alpha, m * 10 + r);
      const g = noise(r, m * 10 + r + 1);
      const Gg = G.map((row) => row.reduce((s, v, k) => s + v * g[k], 0));
      const Bd = BT.map((row) => row.reduce((s, v, k) => s + v * d[k], 0));
      const y = AT.map((row) => row.reduce((s, v, p) => s + v * Gg[p] * Bd[p], 0));
      const direct = Array.from({ length: m }, (_, i) => g.reduce((s, gk, k) => s + gk * d[i + k], 0));
      y.forEach((v, i) => expect(Math.abs(v - direct[i])).toBeLessThan(1e-12));
    }
  }
});

test("the tile: fewest multiplications counting overhanging tiles, the smaller one where equal", () => {
  expect(chooseTile(3, 13, 13)).toBe(5); // 9 tiles × 49 = 441, against F(4, 3)'s 16 × 36 = 576
  expect(chooseTile(3, 12, 12)).toBe(4); // 9 × 36 = 324
  expect(chooseTile(5, 27, 27)).toBe(3); // AlexNet's conv2: 81 × 49
  expect(chooseTile(3, 1, 1)).toBe(2);
});

/** One convolution as a model: weights (and bias) as inputs, as in a training step. */
function convModel(o: { batch?: number | string; cin: number; cout: number; h: number; w: number; r: number; pads: number[]; bias?: boolean; attrs?: Record<string, number | number[]> }): Graph {
  const b = new GraphBuilder("conv");
  const x = b.input("x", "float32", [o.batch ?? N, o.cin, o.h, o.w]);
  const w = b.input("w", "float32", [o.cout, o.cin / (((o.attrs?.group as number) ?? 1)), o.r, o.r]);
  const bias = o.bias ? b.input("b", "float32", [o.cout]) : undefined;
  b.output(b.op1("Conv", [x, w, bias], { kernel_shape: [o.r, o.r], pads: o.pads, ...o.attrs }), "y");
  return b.build();
}

describe("lowered convolutions == onnxruntime's Conv", () => {
  const cases: [string, Parameters<typeof convModel>[0], number | undefined, number][] = [
    ["AlexNet's conv3-5 shape, F(5, 3), cropped (15 → 13), bias", { cin: 64, cout: 72, h: 13, w: 13, r: 3, pads: [1, 1, 1, 1], bias: true }, undefined, 3],
    ["AlexNet's conv2 shape, F(3, 5), whole tiles", { cin: 64, cout: 64, h: 27, w: 27, r: 5, pads: [2, 2, 2, 2] }, undefined, 2],
    ["non-square, asymmetric pads", { cin: 64, cout: 64, h: 10, w: 7, r: 3, pads: [0, 1, 2, 1], bias: true }, undefined, 2],
    ["F(2, 3)", { cin: 64, cout: 64, h: 9, w: 9, r: 3, pads: [1, 1, 1, 1] }, 2, 2],
    ["F(3, 3)", { cin: 64, cout: 64, h: 9, w: 9, r: 3, pads: [1, 1, 1, 1] }, 3, 2],
    ["F(4, 3), no pads", { cin: 64, cout: 64, h: 14, w: 14, r: 3, pads: [0, 0, 0, 0] }, 4, 2],
    ["F(2, 5), static batch", { batch: 3, cin: 64, cout: 64, h: 11, w: 11, r: 5, pads: [2, 2, 2, 2] }, 2, 3],
  ];
  test.each(cases)("%s", async (_, o, tile, batch) => {
    const graph = convModel(o);
    const bytes = sessionBytes(graph);
    const lowered = winogradPass({ tile })(graph);
    expect(winogradConvCount(lowered)).toBe(1);
    // The only convolution left is the input transform, a Conv3D with constant kernels.
    expect(lowered.nodes.filter((n) => n.op === "Conv").map((n) => n.name)).toEqual([expect.stringMatching(/winograd\/Conv_v5$/)]);
    const x = noise(batch * o.cin * o.h * o.w, 1);
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor("float32", Float32Array.from(x), [batch, o.cin, o.h, o.w]),
      w: new ort.Tensor("float32", Float32Array.from(noise(o.cout * o.cin * o.r * o.r, 2), (v) => v * 0.1), [o.cout, o.cin, o.r, o.r]),
    };
    if (o.bias) feeds.b = new ort.Tensor("float32", Float32Array.from(noise(o.cout, 3)), [o.cout]);
    const ref = (await (await ort.InferenceSession.create(bytes)).run(feeds)).y;
    const candidates = [sessionBytes(lowered)];
    if (tile === undefined) {
      // As the trainer runs it: then the NCHWc pass, which leaves the Conv3D alone.
      const cpu = runPasses(graph, cpuPasses({ blockSize: await nchwcBlockSize(), winograd: true }));
      expect(winogradConvCount(cpu)).toBe(1);
      candidates.push(sessionBytes(cpu));
    }
    for (const candidate of candidates) {
      const got = (await (await ort.InferenceSession.create(candidate)).run(feeds)).y;
      expect(got.dims).toEqual(ref.dims);
      // Measured 1.8e-5 to 3.8e-5 of the largest output on AlexNet's shapes (docs/performance.md).
      expect(agreement(got.data as Float32Array, ref.data as Float32Array, 0, 0).relToMax).toBeLessThan(1e-4);
    }
  });
});

test("a batch too large for the transforms runs in slices, any batch size the same", async () => {
  const o = { cin: 64, cout: 64, h: 13, w: 13, r: 3, pads: [1, 1, 1, 1], bias: true };
  const graph = convModel(o);
  // 4·9·(49·(2·64 + 64) + 25·64) = 396 KB of transforms per image: 8 images → 4 slices of 1 MB.
  const sliced = winogradPass({ batch: 8, sliceBytes: 1 << 20 })(graph);
  expect(winogradConvCount(sliced)).toBe(1);
  expect(sliced.nodes.filter((n) => n.op === "Conv")).toHaveLength(4);
  expect(sliced.nodes.filter((n) => n.op === "Concat" && n.inputs.length === 4)).toHaveLength(1); // the slices joined
  const direct = await ort.InferenceSession.create(sessionBytes(graph));
  const candidate = await ort.InferenceSession.create(sessionBytes(sliced));
  // The batch it was sized for, a smaller one, and batches with fewer images than slices (empty slices).
  for (const batch of [8, 5, 3, 1]) {
    const feeds: Record<string, ort.Tensor> = {
      x: new ort.Tensor("float32", Float32Array.from(noise(batch * o.cin * o.h * o.w, batch)), [batch, o.cin, o.h, o.w]),
      w: new ort.Tensor("float32", Float32Array.from(noise(o.cout * o.cin * 9, 2), (v) => v * 0.1), [o.cout, o.cin, 3, 3]),
      b: new ort.Tensor("float32", Float32Array.from(noise(o.cout, 3)), [o.cout]),
    };
    const ref = (await direct.run(feeds)).y;
    const got = (await candidate.run(feeds)).y;
    expect(got.dims).toEqual(ref.dims);
    expect(agreement(got.data as Float32Array, ref.data as Float32Array, 0, 0).relToMax).toBeLessThan(1e-4);
  }
});

test("only 3×3 and 5×5 convolutions of stride 1, one group and enough channels are rewritten", () => {
  const count = (o: Partial<Parameters<typeof convModel>[0]>, constantWeight = false) => {
    const c = { cin: 64, cout: 64, h: 12, w: 12, r: 3, pads: [1, 1, 1, 1], ...o };
    if (!constantWeight) return winogradConvCount(winogradPass()(convModel(c)));
    const b = new GraphBuilder("g");
    const dims = [c.cout, c.cin, c.r, c.r];
    b.output(b.op1("Conv", [b.input("x", "float32", [N, c.cin, c.h, c.w]), b.initializer(makeTensor("w", "float32", dims, Array(numel(dims)).fill(0)))], { kernel_shape: [c.r, c.r], pads: c.pads }), "y");
    return winogradConvCount(winogradPass()(b.build()));
  };
  expect(count({})).toBe(1);
  expect(count({ r: 5, pads: [2, 2, 2, 2] })).toBe(1);
  expect(count({}, true)).toBe(1); // constant weights too (an exported model's evaluation)
  expect(count({ attrs: { strides: [2, 2] } })).toBe(0);
  expect(count({ attrs: { dilations: [2, 2] } })).toBe(0);
  expect(count({ attrs: { group: 2 } })).toBe(0);
  expect(count({ r: 1, pads: [0, 0, 0, 0] })).toBe(0);
  expect(count({ r: 7, pads: [3, 3, 3, 3] })).toBe(0);
  expect(count({ cin: MIN_CHANNELS / 2 })).toBe(0);
  expect(count({ cout: MIN_CHANNELS / 2 })).toBe(0);
  // Nothing to rewrite: an equal graph back.
  const graph = convModel({ cin: 16, cout: 16, h: 8, w: 8, r: 3, pads: [1, 1, 1, 1] });
  expect(sessionBytes(winogradPass()(graph))).toEqual(sessionBytes(graph));
});

// Eligible convolutions forward (conv2, conv3) and backward (their dX convolutions), a 5×5 among them.
const wide = model(
  { name: "wide", input: [N, 1, 28, 28], preprocess: { raw: [1, 28, 28] } },
  (x: Tensor) =>
    x
      .conv2d(64, { kernel: 5, stride: 2, padding: 1 }).relu() // stride 2: left alone
      .conv2d(64, { kernel: 5, padding: 2 }).relu().maxPool2d(2, { stride: 2 }) // F(m, 5)
      .conv2d(96, { kernel: 3, padding: 1 }).relu() // F(m, 3)
      .flatten()
      .linear(10),
);

/** Gradients (Adam's first moment, 0.1·g after one step) within `tol` of each tensor's largest; loss and correct count. */
function expectSameStep(ref: ort.InferenceSession.OnnxValueMapType, got: ort.InferenceSession.OnnxValueMapType, moments: readonly string[], tol: number): void {
  expect(Number(got.correct.data[0])).toBe(Number(ref.correct.data[0]));
  expect(Math.abs(Number(got.loss.data[0]) - Number(ref.loss.data[0]))).toBeLessThan(1e-5 * Math.abs(Number(ref.loss.data[0])));
  for (const name of moments) {
    const a = agreement(got[next(name)].data as Float32Array, ref[next(name)].data as Float32Array, 0, 0);
    expect({ name, relToMax: a.relToMax < tol ? "ok" : a.relToMax }).toEqual({ name, relToMax: "ok" });
  }
}

test("the step as the trainer runs it on the CPU == the direct one: loss, correct count, gradients", async () => {
  const batch = 4;
  const cpu = { blockSize: await nchwcBlockSize(), winograd: true, batch };
  const direct = buildStepGraph(wide, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 });
  const winograd = buildStepGraph(wide, { optimizer: adam(), mode: "inputs", dropoutSeed: 0, gradients: cpuStepGradients(cpu) });
  const graph = winograd.b.build();
  // conv2's and conv3's weight gradients by Winograd's algorithm: no per-offset GEMMs left for them.
  const gemms = (g: typeof direct) => g.b.build().nodes.filter((n) => n.op === "Gemm" && /conv[23]/.test(n.name)).length;
  expect(gemms(direct)).toBe(25 + 9);
  expect(gemms(winograd)).toBe(0);
  const lowered = runPasses(graph, cpuPasses(cpu));
  expect(winogradConvCount(lowered)).toBe(4); // conv2, conv3 and their dX convolutions
  const feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor("uint8", Uint8Array.from({ length: batch * 784 }, (_, i) => (i * 131 + (i >> 7) * 17) % 256), [batch, 1, 28, 28]),
    labels: new ort.Tensor("int64", BigInt64Array.from({ length: batch }, (_, i) => BigInt((i * 3) % 10)), [batch]),
    lr: new ort.Tensor("float32", Float32Array.of(1e-3), []),
    step: new ort.Tensor("int64", BigInt64Array.of(0n), []),
  };
  for (const p of direct.params) feeds[p.name] = new ort.Tensor("float32", uniformInit(0, p.name, numel(p.dims), p.fanIn), [...p.dims]);
  for (const s of direct.state) feeds[s.name] = new ort.Tensor("float32", new Float32Array(numel(s.dims)), [...s.dims]);
  const ref = await (await ort.InferenceSession.create(sessionBytes(direct.b.build()))).run(feeds);
  const moments = direct.state.filter((t) => t.name.endsWith(".adam_m")).map((t) => t.name);
  expect(moments.length).toBe(direct.params.length);
  // Measured: 1.3e-6 (forward and dX by Winograd), 2.6e-6 (all three) of each tensor's largest.
  expectSameStep(ref, await (await ort.InferenceSession.create(sessionBytes(winogradPass()(direct.b.build())))).run(feeds), moments, 1e-4);
  expectSameStep(ref, await (await ort.InferenceSession.create(sessionBytes(lowered))).run(feeds), moments, 1e-4);
});

test("AlexNet: the step as the trainer runs it on the CPU == the direct one (batch 8, dropout masks)", async () => {
  const alexnet = (require("../models/alexnet") as { default: ModelDef }).default;
  const batch = 8;
  const program = programFromModel(alexnet, adam(), 0);
  const cpu = { blockSize: await nchwcBlockSize(), winograd: true, batch };
  const direct = program.loweredStepGraph("dropout");
  const winograd = program.loweredStepGraph("dropout", cpuStepGradients(cpu));
  const lowered = runPasses(winograd.graph, cpuPasses(cpu));
  expect(winogradConvCount(lowered)).toBe(8); // conv2–conv5 and their dX convolutions
  const feeds = { ...batchFeeds(program, batch, 3), ...maskFeeds(direct.masks, batch, 0), ...stateFeeds(program) };
  const ref = await (await ort.InferenceSession.create(sessionBytes(direct.graph))).run(feeds);
  const moments = program.mutable.filter((t) => t.name.endsWith(".adam_m")).map((t) => t.name);
  // The weight gradients alone by Winograd (the forward unchanged): measured ≤ 2.4e-6.
  expectSameStep(ref, await (await ort.InferenceSession.create(sessionBytes(winograd.graph))).run(feeds), moments, 1e-4);
  // Everything by Winograd: measured ≤ 1.3e-5 on these images. (On others a max-pooling window
  // whose two largest values differ by less than the rounding picks the other one, and the
  // gradients through it move by up to 1e-2 of their largest, as between any two runtimes.)
  expectSameStep(ref, await (await ort.InferenceSession.create(sessionBytes(lowered))).run(feeds), moments, 1e-4);
}, 60_000);

describe("the trainer lowers CPU convolutions by default; --no-winograd turns it off", () => {
  const tmp = makeTmpDir("alexc-winograd-");
  afterAll(() => tmp.remove());
  const run = async (winograd: boolean | undefined) => {
    const lines: string[] = [];
    const cfg: TrainConfig = {
      epochs: 1, batchSize: 8, lr: 1e-3, optimizer: "adam", seed: 0, target: await cpuTarget({ threads: 1, winograd }),
      out: tmp.sub(String(winograd)), resume: false, evalBatchSize: 8,
    };
    const metrics = await train(programFromModel(wide as ModelDef, adam(), 0), { train: syntheticSplit(16, 1), test: syntheticSplit(8, 2) }, cfg, { line: (t) => lines.push(t), progress: () => undefined });
    return { line: lines.find((l) => l.startsWith("step:"))!, loss: metrics[0].train_loss };
  };
  test("step log and losses", async () => {
    const on = await run(undefined);
    const off = await run(false);
    expect(on.line).toMatch(/convolutions: 4 by Winograd's algorithm/);
    expect(off.line).toMatch(/convolutions: 0 by Winograd's algorithm/);
    expect(Math.abs(on.loss - off.loss)).toBeLessThan(1e-4 * Math.abs(off.loss));
  }, 60_000);
});
