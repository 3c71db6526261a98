/**
 * Logits of an ONNX classifier from the runtimes the tests compare: onnxruntime-node in this
 * process, onnxruntime-web (WASM) in a child (ort-web-run.ts), plus seeded inputs and the
 * tolerance assertion. Import "./train-realm" before this module in a test file.
 */
import * as ort from "onnxruntime-node";
import { spawnSync } from "child_process";
import * as path from "path";
import { Rng } from "../../src/graph/random";
import { REPO_ROOT } from "./cli";
import { agreement, formatAgreement } from "./compare";
import { readNpy, writeNpy } from "./npy";

/** Image-like input in [0, 1), seeded. */
export function randomImages(shape: readonly number[], seed: number): Float32Array {
  const rng = new Rng(seed);
  const out = new Float32Array(shape.reduce((a, b) => a * b, 1));
  for (let i = 0; i < out.length; i++) out[i] = rng.nextFloat();
  return out;
}

/** The model's `logits` for `x` on onnxruntime-node (the model's input must be `input`). */
export async function runOrtNode(model: string, x: Float32Array, shape: readonly number[]): Promise<{ data: Float32Array; dims: number[] }> {
  const session = await ort.InferenceSession.create(model);
  try {
    expect(session.inputNames).toEqual(["input"]);
    expect(session.outputNames).toEqual(["logits"]);
    const result = await session.run({ input: new ort.Tensor("float32", x, [...shape]) });
    const y = result.logits;
    return { data: y.data as Float32Array, dims: y.dims.map(Number) };
  } finally {
    await session.release();
  }
}

/** The model's first output for `x` on onnxruntime-web's WASM backend (a child process). */
export function runOrtWeb(model: string, x: Float32Array, shape: readonly number[], workDir: string, tag: string): { data: Float32Array; dims: number[] } {
  const inFile = path.join(workDir, `${tag}-web-in.npy`);
  const outFile = path.join(workDir, `${tag}-web-out.npy`);
  writeNpy(inFile, x, shape);
  const r = spawnSync(process.execPath, ["-r", "tsx/cjs", path.join(REPO_ROOT, "test", "helpers", "ort-web-run.ts"), model, inFile, outFile], {
    cwd: REPO_ROOT,
    encoding: "utf8",
    timeout: 300_000,
  });
  if (r.status !== 0) throw new Error(`ort-web-run.ts exited ${r.status}:\n${r.stderr}`);
  const y = readNpy(outFile);
  return { data: y.data as Float32Array, dims: [...y.shape] };
}

/** Asserts both criteria (relative to the largest |expected|, and elementwise); the message carries the statistics. */
export function expectClose(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number, what: string): void {
  const a = agreement(actual, expected, rtol, atol);
  const report = `${what}: ${formatAgreement(a)}`;
  if (process.env.ALEXC_TEST_REPORT) console.log(report);
  expect({ report, relToMaxOk: a.relToMax <= rtol, violations: a.violations }).toEqual({ report, relToMaxOk: true, violations: 0 });
}

export { maxAbs } from "./compare";
