/**
 * The command line on damaged files (issue 22), a few cases per command since each spawns alexc:
 * `inspect`, `export`, `predict` (damaged image, damaged model) and `train` (damaged .onnx, IDX
 * data, checkpoint on --resume). A damaged file that still parses may succeed; otherwise the exit
 * code is the reader's, stderr is exactly one line with no stack trace, no output file appears
 * and an existing one keeps its bytes. The inputs are fast-check samples of the in-process
 * fuzzer's arbitraries, seeded like test/fuzz-readers.test.ts.
 */
import fc from "fast-check";
import * as fs from "fs";
import * as path from "path";
import { describeResult, lines, runAlexc, type CliResult } from "./helpers/cli";
import { tinyCnnOnnx } from "./helpers/fuzz/onnx-seed";
import { allTargets } from "./helpers/fuzz/targets";
import { mutated } from "./helpers/fuzz/mutate";
import { listDir, makeTmpDir } from "./helpers/tmp";
import { IDX_NAMES, writeSyntheticData } from "./helpers/train-idx";

const SEED = Number(process.env.FUZZ_SEED ?? 22);
const tmp = makeTmpDir("fuzz-cli");
afterAll(() => tmp.remove());

const model = path.join(tmp.dir, "tiny.onnx");
const data = tmp.sub("data");
beforeAll(() => {
  fs.writeFileSync(model, tinyCnnOnnx());
  writeSyntheticData(data, 64, 32);
});

const targets = () => new Map(allTargets(fs.readFileSync(model)).map((t) => [t.name, t]));
/** `n` inputs; `salt` keeps the samples of different tests apart (the same seed would repeat the first ones). */
const samples = (arb: fc.Arbitrary<Uint8Array>, n: number, salt: number) => fc.sample(arb, { seed: SEED + salt, numRuns: n });

/** Runs that refused their input: each test must see some, or it checked nothing. */
let refused = 0;
beforeEach(() => (refused = 0));
afterEach(() => expect(refused).toBeGreaterThan(0));

/** A run on a damaged file: success, or the reader's exit code with exactly one line and no stack. */
function expectClean(r: CliResult, exitCodes: readonly number[]): void {
  if (r.status === 0) return;
  refused++;
  const ok = exitCodes.includes(r.status ?? -1) && lines(r.stderr).length === 1 && /^alexc: /.test(r.stderr) && !/internal error|\n\s+at /.test(r.stderr);
  if (!ok) throw new Error(`expected exit ${exitCodes.join("/")} with one line:\n${describeResult(r)}`);
}

/** Runs `run` with `dir` holding an existing file: on failure the folder lists the same and the file keeps its bytes. */
function expectNothingWritten(dir: string, existing: string, run: () => CliResult, exitCodes: readonly number[]): void {
  fs.writeFileSync(existing, "existing bytes");
  const before = listDir(dir);
  const r = run();
  expectClean(r, exitCodes);
  if (r.status !== 0) {
    expect(listDir(dir)).toEqual(before);
    expect(fs.readFileSync(existing, "utf8")).toBe("existing bytes");
  }
}

test("inspect and export on damaged .onnx files", () => {
  const onnx = targets().get("ONNX")!;
  for (const [i, bytes] of samples(onnx.inputs, 4, 0).entries()) {
    const file = path.join(tmp.dir, `inspect-${i}.onnx`);
    fs.writeFileSync(file, bytes);
    expectClean(runAlexc(["inspect", file]), [2, 4]);
    if (i % 2) continue;
    const out = tmp.sub("export");
    const existing = path.join(out, "out.onnx");
    expectNothingWritten(out, existing, () => runAlexc(["export", file, "-o", existing]), [2, 4]);
  }
});

test("predict on damaged PNGs and damaged models", () => {
  const png = targets().get("PNG")!;
  const images = samples(png.inputs, 3, 1).map((bytes, i) => {
    const file = path.join(tmp.dir, `image-${i}.png`);
    fs.writeFileSync(file, bytes);
    return file;
  });
  for (const image of images) expectClean(runAlexc(["predict", model, image]), [5]);
  const onnx = targets().get("ONNX")!;
  for (const [i, bytes] of samples(onnx.inputs, 2, 2).entries()) {
    const file = path.join(tmp.dir, `predict-${i}.onnx`);
    fs.writeFileSync(file, bytes);
    expectClean(runAlexc(["predict", file, images[0]]), [2, 4, 5]);
  }
});

const SMALL = ["--data", data, "--train-limit", "32", "--test-limit", "16", "--batch-size", "16", "--threads", "1"];

test("train on a damaged .onnx and on damaged IDX data: one line, nothing written to --out", () => {
  const onnx = targets().get("ONNX")!;
  for (const [i, bytes] of samples(onnx.inputs, 1, 3).entries()) {
    const file = path.join(tmp.dir, `train-${i}.onnx`);
    fs.writeFileSync(file, bytes);
    const out = tmp.sub("train-onnx");
    expectNothingWritten(out, path.join(out, "existing"), () => runAlexc(["train", file, ...SMALL, "--out", out], { timeoutMs: 120_000 }), [2, 3, 4]);
  }
  const labels = fs.readFileSync(path.join(data, IDX_NAMES.trainLabels));
  for (const [i, bytes] of samples(mutated(labels), 2, 4).entries()) {
    const damaged = tmp.sub(`idx-${i}`);
    for (const f of fs.readdirSync(data)) fs.copyFileSync(path.join(data, f), path.join(damaged, f));
    fs.writeFileSync(path.join(damaged, IDX_NAMES.trainLabels), bytes);
    const out = tmp.sub("train-idx");
    expectNothingWritten(out, path.join(out, "existing"), () => runAlexc(["train", "models/lenet.ts", ...SMALL, "--data", damaged, "--out", out], { timeoutMs: 120_000 }), [5]);
  }
});

test("train --resume on a damaged checkpoint: one line, exit 5, the checkpoint left as it was", () => {
  const out = tmp.sub("resume");
  const first = runAlexc(["train", "models/lenet.ts", ...SMALL, "--epochs", "1", "--out", out], { timeoutMs: 120_000 });
  if (first.status !== 0) throw new Error(describeResult(first));
  const ckpt = path.join(out, "checkpoint.ckpt");
  const good = fs.readFileSync(ckpt);
  for (const bytes of samples(mutated(good), 2, 5)) {
    fs.writeFileSync(ckpt, bytes);
    const r = runAlexc(["train", "models/lenet.ts", ...SMALL, "--epochs", "2", "--resume", "--out", out], { timeoutMs: 120_000 });
    expectClean(r, [5]);
    if (r.status !== 0) expect(fs.readFileSync(ckpt).equals(Buffer.from(bytes))).toBe(true);
  }
});
