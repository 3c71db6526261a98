/**
 * BatchNorm's running statistics through everything that carries a mutable tensor, end to end
 * with `alexc train` (child processes, a small BatchNorm CNN on synthetic data): they move during
 * training; alexc's own binding updating them in place, K steps in one ONNX Loop, the WebGPU
 * lowering and training from a built .onnx's training_info all end with the same weights and
 * statistics as the plain step; a resumed run ends where a straight one does; the trained file
 * passes the ONNX checker, its exported weights carry running_mean, running_var and
 * num_batches_tracked, and `alexc build --init-from` reads them back.
 */
import * as fs from "fs";
import * as path from "path";
import { readModelFile } from "../src/emit/decode";
import { readSafetensorsFile } from "../src/emit/safetensors";
import { floatValues } from "../src/emit/tensor-data";
import { loadCheckpoint } from "../src/train/checkpoint";
import { describeResult, lines, runAlexc } from "./helpers/cli";
import { makeTmpDir } from "./helpers/tmp";
import { writeSyntheticData } from "./helpers/train-idx";
import { onnxCheck } from "./helpers/train-torch";

const tmp = makeTmpDir("alexc-batchnorm-train");
afterAll(() => tmp.remove());
const T = { timeoutMs: 120_000 };
const MODEL = "test/fixtures/batchnorm-cnn.ts";
/** 64 training images in batches of 16: 4 steps an epoch. */
const SMALL = ["--train-limit", "64", "--test-limit", "32", "--batch-size", "16", "--threads", "1"];

let synth = "";
beforeAll(() => {
  synth = tmp.sub("synth");
  writeSyntheticData(synth, 64, 32);
});

function train(model: string, out: string, ...args: string[]): string {
  const r = runAlexc(["train", model, "--data", synth, ...SMALL, "--out", out, ...args], T);
  if (r.status !== 0) throw new Error(describeResult(r));
  return r.stdout;
}

function tensors(dir: string): Map<string, Float32Array> {
  return new Map([...loadCheckpoint(path.join(dir, "checkpoint.ckpt")).tensors].map(([k, t]) => [k, t.data]));
}

function expectSame(a: string, b: string): void {
  const [ta, tb] = [tensors(a), tensors(b)];
  expect([...tb.keys()].sort()).toEqual([...ta.keys()].sort());
  const differ = [...ta].filter(([k, v]) => !Buffer.from(v.buffer, v.byteOffset, v.byteLength).equals(Buffer.from(tb.get(k)!.buffer, tb.get(k)!.byteOffset, tb.get(k)!.byteLength)));
  expect(differ.map(([k]) => k)).toEqual([]);
}

const STATS = ["bn1.running_mean", "bn1.running_var", "b1.bn1.running_mean", "b1.bn2.running_var", "bn2.running_mean", "bn2.running_var"];

describe("BatchNorm's running statistics in training runs", () => {
  let plain = "";
  beforeAll(() => {
    plain = tmp.sub("no-native");
    train(MODEL, plain, "--epochs", "2", "--no-native");
  });

  test("they move from 0 and 1, are checkpointed, and the in-place native binding gives the same bits", () => {
    const t = tensors(plain);
    for (const name of STATS) {
      const start = name.endsWith("mean") ? 0 : 1;
      expect([name, t.get(name)!.some((v) => v !== start)]).toEqual([name, true]);
    }
    const native = tmp.sub("native");
    expect(train(MODEL, native, "--epochs", "2")).toMatch(/step: alexc's onnxruntime binding, (\d+) of \1 tensors updated in place/);
    expectSame(plain, native);
  });

  test("K = 4 steps in one Loop, and the WebGPU lowering (on the CPU provider), give the same bits", () => {
    const k4 = tmp.sub("k4");
    train(MODEL, k4, "--epochs", "2", "--steps-per-run", "4", "--no-native");
    expectSame(plain, k4);
    const webgpu = tmp.sub("webgpu");
    train(MODEL, webgpu, "--epochs", "2", "--lowering", "webgpu", "--no-native");
    const [a, b] = [tensors(plain), tensors(webgpu)];
    for (const name of STATS) expect([name, maxDiff(a.get(name)!, b.get(name)!) < 1e-4]).toEqual([name, true]);
  });

  test("resume: 1 epoch + --resume --epochs 2 = 2 epochs", () => {
    const resumed = tmp.sub("resumed");
    train(MODEL, resumed, "--epochs", "1", "--no-native");
    train(MODEL, resumed, "--epochs", "2", "--resume", "--no-native");
    expectSame(plain, resumed);
  });

  test("a built .onnx trains through its update_binding to the model file's weights and statistics; its export carries them", () => {
    const built = path.join(tmp.sub("built"), "batchnorm_cnn.onnx");
    const rb = runAlexc(["build", MODEL, "-o", built, "--optimizer", "sgd"], T);
    if (rb.status !== 0) throw new Error(describeResult(rb));
    const fromOnnx = tmp.sub("from-onnx");
    train(built, fromOnnx, "--epochs", "2", "--no-native");
    expectSame(plain, fromOnnx);
    const trained = path.join(fromOnnx, "batchnorm_cnn.onnx");
    const check = onnxCheck(trained);
    if (check.status !== 0) throw new Error(check.stderr);
    const info = JSON.parse(check.stdout) as { training_info: { update_binding: Record<string, string> }[] };
    for (const name of STATS) expect(info.training_info[0].update_binding[name]).toBe(`${name}.next`);
    // The trained inference graph reads the trained statistics as initialisers.
    const inits = new Map((readModelFile(trained).graph?.initializer ?? []).map((t) => [t.name!, t]));
    expect(Array.from(floatValues(inits.get("b1.bn2.running_var")!, trained))).toEqual(Array.from(tensors(plain).get("b1.bn2.running_var")!));
  });

  test("export-weights writes running_mean, running_var and num_batches_tracked (the step count) by PyTorch names; build --init-from reads them", () => {
    const weights = path.join(tmp.sub("weights"), "w.safetensors");
    const trained = path.join(plain, "batchnorm_cnn.onnx");
    const r = runAlexc(["export-weights", trained, "-o", weights], T);
    if (r.status !== 0) throw new Error(describeResult(r));
    const st = new Map(readSafetensorsFile(weights).tensors.map((t) => [t.name, t]));
    expect(Array.from(st.get("1.bn2.running_var")!.data)).toEqual(Array.from(tensors(plain).get("b1.bn2.running_var")!));
    expect(Array.from(st.get("1.bn2.num_batches_tracked")!.data)).toEqual([8]);
    expect(st.get("0.1.num_batches_tracked")!.dims).toEqual([]);
    const rebuilt = path.join(tmp.sub("rebuilt"), "m.onnx");
    const rb = runAlexc(["build", MODEL, "-o", rebuilt, "--init-from", weights], T);
    if (rb.status !== 0) throw new Error(describeResult(rb));
    const inits = new Map((readModelFile(rebuilt).graph?.initializer ?? []).map((t) => [t.name!, t]));
    expect(Array.from(floatValues(inits.get("bn1.running_mean")!, rebuilt))).toEqual(Array.from(st.get("0.1.running_mean")!.data));
    expect(lines(rb.stdout).join("\n")).not.toMatch(/num_batches_tracked/);
  });
});

function maxDiff(a: Float32Array, b: Float32Array): number {
  return a.reduce((m, v, i) => Math.max(m, Math.abs(v - b[i])), 0);
}
