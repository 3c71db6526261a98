/**
 * `alexc train` end to end (child processes on LeNet with small limits): output files, resume
 * exactness, one clear message and a non-zero exit for each bad input, divergence, and a
 * missing CUDA provider.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { loadCheckpoint } from "../src/train/checkpoint";
import { ALEXC_BIN, CliResult, describeResult, lines, REPO_ROOT, runAlexc } from "./helpers/cli";
import { makeTmpDir } from "./helpers/tmp";
import { IDX_NAMES, idxImages, idxLabels, writeSyntheticData } from "./helpers/train-idx";
import { onnxCheck } from "./helpers/train-torch";

const REAL_DATA = "/usr/share/datasets/fashion-mnist";
const tmp = makeTmpDir("alexc-trainer");
afterAll(() => tmp.remove());

const T = { timeoutMs: 120_000 };
/** Small, fast runs: 64 training images in batches of 16 (4 steps an epoch), 32 test images. */
const SMALL = ["--train-limit", "64", "--test-limit", "32", "--batch-size", "16", "--threads", "1"];

function train(args: readonly string[]): CliResult {
  return runAlexc(["train", "models/lenet.ts", ...args], T);
}

/** A failure: non-zero exit, one error line on stderr that matches `re`, no stack trace. */
function expectCleanFailure(r: CliResult, re: RegExp): void {
  expect(r.status).not.toBe(0);
  expect(r.status).not.toBeNull();
  const errLines = lines(r.stderr);
  if (errLines.length !== 1 || !re.test(errLines[0])) throw new Error(`expected one stderr line matching ${re}, got:\n${describeResult(r)}`);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

describe("alexc train (LeNet, small limits)", () => {
  let synth: string;
  beforeAll(() => {
    synth = tmp.sub("synth");
    writeSyntheticData(synth, 64, 32);
  });

  test("writes metrics.jsonl (step and epoch lines), checkpoint.ckpt and a valid lenet.onnx", () => {
    const out = tmp.sub("basic");
    const r = train(["--data", REAL_DATA, ...SMALL, "--epochs", "1", "--out", out]);
    if (r.status !== 0) throw new Error(describeResult(r));
    const metrics = lines(fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8")).map((l) => JSON.parse(l) as Record<string, unknown>);
    const steps = metrics.filter((m) => m.type === "step");
    const epochs = metrics.filter((m) => m.type === "epoch");
    expect(steps.map((m) => m.step)).toEqual([1, 2, 3, 4]);
    for (const m of steps) expect(Number.isFinite(m.loss)).toBe(true);
    expect(epochs.length).toBe(1);
    expect(epochs[0]).toMatchObject({ epoch: 1 });
    for (const k of ["train_loss", "train_acc", "test_acc", "time_s", "img_per_s"]) expect(typeof epochs[0][k]).toBe("number");
    const ck = loadCheckpoint(path.join(out, "checkpoint.ckpt"));
    expect(ck.meta).toMatchObject({ model: "lenet", epoch: 1, step: 4 });
    const check = onnxCheck(path.join(out, "lenet.onnx"));
    if (check.status !== 0) throw new Error(`onnx_check failed:\n${check.stderr}`);
    const info = JSON.parse(check.stdout) as { training_info: unknown[] };
    expect(info.training_info.length).toBe(1);
  });

  test("resume is exact: 2 epochs = 1 epoch + --resume --epochs 2", () => {
    const a = tmp.sub("straight");
    const b = tmp.sub("resumed");
    const common = ["--data", synth, ...SMALL];
    const ra = train([...common, "--epochs", "2", "--out", a]);
    if (ra.status !== 0) throw new Error(describeResult(ra));
    const rb1 = train([...common, "--epochs", "1", "--out", b]);
    if (rb1.status !== 0) throw new Error(describeResult(rb1));
    const rb2 = train([...common, "--resume", "--epochs", "2", "--out", b]);
    if (rb2.status !== 0) throw new Error(describeResult(rb2));
    expect(rb2.stdout).toMatch(/resumed from .*epoch 1, step 4/);
    const ca = loadCheckpoint(path.join(a, "checkpoint.ckpt"));
    const cb = loadCheckpoint(path.join(b, "checkpoint.ckpt"));
    expect(cb.meta.step).toBe(ca.meta.step);
    expect(cb.meta.epoch).toBe(2);
    expect([...cb.tensors.keys()].sort()).toEqual([...ca.tensors.keys()].sort());
    for (const [name, t] of ca.tensors) {
      const u = cb.tensors.get(name)!;
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
    expect(fs.readFileSync(path.join(b, "lenet.onnx")).equals(fs.readFileSync(path.join(a, "lenet.onnx")))).toBe(true);
    // The step lines of the resumed run continue the straight run's losses exactly.
    const stepLosses = (dir: string) => lines(fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8")).map((l) => JSON.parse(l)).filter((m) => m.type === "step").map((m) => [m.step, m.loss]);
    expect(stepLosses(b)).toEqual(stepLosses(a));
  });

  describe("bad inputs: one clear message, non-zero exit", () => {
    function dataDir(name: string, edit: (dir: string) => void): string {
      const dir = tmp.sub(name);
      for (const f of fs.readdirSync(synth)) fs.copyFileSync(path.join(synth, f), path.join(dir, f));
      edit(dir);
      return dir;
    }

    test("truncated IDX image file", () => {
      const dir = dataDir("truncated", (d) => {
        const f = path.join(d, IDX_NAMES.trainImages);
        const buf = fs.readFileSync(f);
        fs.writeFileSync(f, buf.subarray(0, buf.length - 100));
      });
      expectCleanFailure(train(["--data", dir, "--out", tmp.sub("o-trunc")]), /train-images-idx3-ubyte.*truncated/);
    });

    test("truncated gzip IDX file (real data, cut short)", () => {
      const dir = tmp.sub("truncated-gz");
      for (const f of fs.readdirSync(REAL_DATA)) fs.copyFileSync(path.join(REAL_DATA, f), path.join(dir, f));
      const f = path.join(dir, "t10k-labels-idx1-ubyte.gz");
      const buf = fs.readFileSync(f);
      fs.writeFileSync(f, buf.subarray(0, Math.floor(buf.length / 2)));
      expectCleanFailure(train(["--data", dir, "--out", tmp.sub("o-trunc-gz")]), /t10k-labels-idx1-ubyte\.gz.*(corrupt gzip|truncated)/);
    });

    test("label count ≠ image count", () => {
      const dir = dataDir("mismatch", (d) => {
        fs.writeFileSync(path.join(d, IDX_NAMES.testLabels), idxLabels(new Uint8Array(31)));
      });
      expectCleanFailure(train(["--data", dir, "--out", tmp.sub("o-mismatch")]), /label count does not match image count.*31 labels.*32 images/);
    });

    test("images of the wrong size are rejected too", () => {
      const dir = dataDir("wrong-dims", (d) => {
        const buf = idxImages(new Uint8Array(32 * 784), 32);
        buf.writeUInt32BE(14, 8);
        buf.writeUInt32BE(56, 12);
        fs.writeFileSync(path.join(d, IDX_NAMES.testImages), buf);
      });
      expectCleanFailure(train(["--data", dir, "--out", tmp.sub("o-dims")]), /14x56, expected 28x28/);
    });

    test("missing data directory", () => {
      const missing = path.join(tmp.dir, "no-such-data");
      expectCleanFailure(train(["--data", missing, "--out", tmp.sub("o-missing")]), /no-such-data: data directory not found/);
    });

    test("unwritable --out (under a regular file)", () => {
      const file = path.join(tmp.dir, "a-regular-file");
      fs.writeFileSync(file, "x");
      expectCleanFailure(train(["--data", synth, ...SMALL, "--out", path.join(file, "run")]), /--out .*not a writable directory/);
    });

    test("--resume with no checkpoint", () => {
      const out = tmp.sub("o-nockpt");
      expectCleanFailure(train(["--data", synth, ...SMALL, "--resume", "--out", out]), /--resume: no checkpoint at .*checkpoint\.ckpt/);
    });

    test("corrupt checkpoint on --resume (one flipped byte); the file is left unchanged", () => {
      const out = tmp.sub("o-corrupt");
      const first = train(["--data", synth, ...SMALL, "--epochs", "1", "--out", out]);
      if (first.status !== 0) throw new Error(describeResult(first));
      const ckpt = path.join(out, "checkpoint.ckpt");
      const buf = fs.readFileSync(ckpt);
      buf[buf.length - 10] ^= 0x40;
      fs.writeFileSync(ckpt, buf);
      const r = train(["--data", synth, ...SMALL, "--resume", "--epochs", "2", "--out", out]);
      expectCleanFailure(r, /checkpoint\.ckpt: corrupt checkpoint: checksum mismatch/);
      expect(fs.readFileSync(ckpt).equals(buf)).toBe(true);
    });
  });

  /** Checkpoint tensors of two runs, byte for byte. */
  function expectSameCheckpoint(a: string, b: string): void {
    const ca = loadCheckpoint(path.join(a, "checkpoint.ckpt"));
    const cb = loadCheckpoint(path.join(b, "checkpoint.ckpt"));
    expect(cb.meta.step).toBe(ca.meta.step);
    expect([...cb.tensors.keys()].sort()).toEqual([...ca.tensors.keys()].sort());
    for (const [name, t] of ca.tensors) {
      const u = cb.tensors.get(name)!;
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
  }

  const smallCnn = (args: readonly string[]) => runAlexc(["train", "test/fixtures/small-cnn.ts", "--data", synth, ...SMALL, ...args], T);

  test("resume is exact with live dropout (masks per epoch and batch): small CNN, 2 epochs = 1 + --resume", () => {
    const a = tmp.sub("dropout-straight");
    const b = tmp.sub("dropout-resumed");
    for (const r of [smallCnn(["--epochs", "2", "--out", a]), smallCnn(["--epochs", "1", "--out", b]), smallCnn(["--epochs", "2", "--resume", "--out", b])]) {
      if (r.status !== 0) throw new Error(describeResult(r));
    }
    expectSameCheckpoint(a, b);
  });

  test("the CPU step on alexc's own binding, updating in place, ends with the weights of onnxruntime-node's (--no-native), bit for bit", () => {
    const a = tmp.sub("native");
    const b = tmp.sub("no-native");
    const ra = smallCnn(["--epochs", "2", "--out", a]);
    const rb = smallCnn(["--epochs", "2", "--no-native", "--out", b]);
    if (ra.status !== 0) throw new Error(describeResult(ra));
    if (rb.status !== 0) throw new Error(describeResult(rb));
    expect(ra.stdout).toMatch(/step: alexc's onnxruntime binding, (\d+) of \1 tensors updated in place/);
    expect(rb.stdout).toMatch(/step: onnxruntime-node/);
    expectSameCheckpoint(a, b);
    const losses = (dir: string) => fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8").split("\n").filter((l) => l.includes('"step"')).map((l) => JSON.parse(l).loss);
    expect(losses(a)).toEqual(losses(b));
    expect(losses(a).length).toBe(8);
  });

  test("--steps-per-run 4 (one ONNX Loop per 4 steps) ends with the same weights as single steps", () => {
    const a = tmp.sub("k1");
    const b = tmp.sub("k4");
    const ra = train(["--data", synth, ...SMALL, "--epochs", "2", "--out", a]);
    const rb = train(["--data", synth, ...SMALL, "--epochs", "2", "--steps-per-run", "4", "--out", b]);
    if (ra.status !== 0) throw new Error(describeResult(ra));
    if (rb.status !== 0) throw new Error(describeResult(rb));
    expectSameCheckpoint(a, b);
  });

  test("--lowering webgpu (on the CPU provider) trains the small CNN, with dropout masks from the run seed, and resumes exactly", () => {
    const a = tmp.sub("webgpu-straight");
    const b = tmp.sub("webgpu-resumed");
    const wg = ["--lowering", "webgpu"];
    for (const r of [smallCnn([...wg, "--epochs", "2", "--out", a]), smallCnn([...wg, "--epochs", "1", "--out", b]), smallCnn([...wg, "--epochs", "2", "--resume", "--out", b])]) {
      if (r.status !== 0) throw new Error(describeResult(r));
    }
    expectSameCheckpoint(a, b);
    const steps = lines(fs.readFileSync(path.join(a, "metrics.jsonl"), "utf8")).map((l) => JSON.parse(l) as { type: string; loss?: number });
    expect(steps.filter((m) => m.type === "step").every((m) => Number.isFinite(m.loss))).toBe(true);
  });

  test("training a built .onnx runs its training_info: same weights as training the model file", () => {
    const built = path.join(tmp.sub("built"), "lenet.onnx");
    const rb = runAlexc(["build", "models/lenet.ts", "-o", built], T);
    if (rb.status !== 0) throw new Error(describeResult(rb));
    const a = tmp.sub("from-ts");
    const b = tmp.sub("from-onnx");
    const ra = train(["--data", synth, ...SMALL, "--epochs", "1", "--out", a]);
    const ro = runAlexc(["train", built, "--data", synth, ...SMALL, "--epochs", "1", "--out", b], T);
    if (ra.status !== 0) throw new Error(describeResult(ra));
    if (ro.status !== 0) throw new Error(describeResult(ro));
    expectSameCheckpoint(a, b);
    // Its trained model carries the updated state and step forward.
    const check = onnxCheck(path.join(b, "lenet.onnx"));
    if (check.status !== 0) throw new Error(check.stderr);
    const wrong = runAlexc(["train", built, "--data", synth, ...SMALL, "--optimizer", "sgd", "--out", tmp.sub("wrong-opt")], T);
    expectCleanFailure(wrong, /training_info runs adam; rebuild it with `alexc build --optimizer sgd`/);
  });

  /** Starts a run, interrupts it with SIGINT after ≥ 20 logged steps, checks the mid-epoch checkpoint, resumes it, and runs it straight; returns both folders. */
  async function interruptResumeAndStraight(modelFile: string, args: readonly string[], batches: number): Promise<{ straight: string; resumed: string }> {
    const a = tmp.sub("sigint-straight");
    const b = tmp.sub("sigint-resumed");
    const child = spawn(process.execPath, [ALEXC_BIN, "train", modelFile, ...args, "--out", b], { cwd: REPO_ROOT, stdio: ["ignore", "pipe", "pipe"] });
    let stdout = "";
    child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
    const exited = new Promise<number | null>((resolve) => child.on("exit", (code) => resolve(code)));
    const metrics = path.join(b, "metrics.jsonl");
    for (let i = 0; i < 600; i++) {
      await new Promise((r) => setTimeout(r, 50));
      if (fs.existsSync(metrics) && lines(fs.readFileSync(metrics, "utf8")).length >= 20) break;
    }
    child.kill("SIGINT");
    expect(await exited).toBe(130);
    expect(stdout).toMatch(new RegExp(`interrupted at epoch 1, batch \\d+/${batches}: saved .*checkpoint\\.ckpt; continue with --resume`));
    const ck = loadCheckpoint(path.join(b, "checkpoint.ckpt"));
    expect(ck.meta.epoch).toBe(0);
    expect(ck.meta.batch).toBeGreaterThanOrEqual(20);
    expect(ck.meta.batch).toBeLessThan(batches);
    expect(ck.meta.step).toBe(ck.meta.batch);
    const resumed = runAlexc(["train", modelFile, ...args, "--resume", "--out", b], T);
    if (resumed.status !== 0) throw new Error(describeResult(resumed));
    const straight = runAlexc(["train", modelFile, ...args, "--out", a], T);
    if (straight.status !== 0) throw new Error(describeResult(straight));
    return { straight: a, resumed: b };
  }

  test("Ctrl-C mid-epoch saves a checkpoint (exit 130); --resume continues at the next batch and ends with the same weights", async () => {
    const args = ["--data", REAL_DATA, "--train-limit", "3000", "--test-limit", "32", "--batch-size", "16", "--threads", "1", "--epochs", "1"];
    const { straight, resumed } = await interruptResumeAndStraight("models/lenet.ts", args, 188);
    // LeNet has no dropout, so an interrupted-and-resumed run is exactly the straight one.
    expectSameCheckpoint(straight, resumed);
  });

  test("with dropout (masks drawn by alexc per epoch and batch), a run resumed mid-epoch also ends with the straight run's weights", async () => {
    const args = ["--data", REAL_DATA, "--train-limit", "3000", "--test-limit", "32", "--batch-size", "16", "--threads", "1", "--epochs", "1"];
    const { straight, resumed } = await interruptResumeAndStraight("test/fixtures/small-cnn.ts", args, 188);
    expectSameCheckpoint(straight, resumed);
  });

  test("a built .onnx with dropout trains to the same weights as its model file, and resumes mid-epoch exactly too", async () => {
    const built = path.join(tmp.sub("built-cnn"), "small_cnn.onnx");
    const rb = runAlexc(["build", "test/fixtures/small-cnn.ts", "-o", built], T);
    if (rb.status !== 0) throw new Error(describeResult(rb));
    const a = tmp.sub("cnn-from-ts");
    const b = tmp.sub("cnn-from-onnx");
    const ra = smallCnn(["--epochs", "1", "--out", a]);
    const ro = runAlexc(["train", built, "--data", synth, ...SMALL, "--epochs", "1", "--out", b], T);
    if (ra.status !== 0) throw new Error(describeResult(ra));
    if (ro.status !== 0) throw new Error(describeResult(ro));
    expectSameCheckpoint(a, b);
    const args = ["--data", REAL_DATA, "--train-limit", "3000", "--test-limit", "32", "--batch-size", "16", "--threads", "1", "--epochs", "1"];
    const { straight, resumed } = await interruptResumeAndStraight(built, args, 188);
    expectSameCheckpoint(straight, resumed);
  });

  test("a diverging run (--lr 1e6) finishes with a divergence warning naming test accuracy and train loss", () => {
    // What the trainer really does: a non-finite loss would throw DivergedError (exit 6), but
    // with Adam at lr 1e6 LeNet's loss stays finite (≈ 4e7), so the run completes (exit 0) and
    // warns after the epoch, because its mean train loss is > 100 (or, after ≥ 100 steps, test
    // accuracy is ≤ 0.11). The warning's numbers are the epoch's metrics.
    const out = tmp.sub("o-diverge");
    const r = train(["--data", REAL_DATA, "--train-limit", "1600", "--test-limit", "32", "--batch-size", "16", "--threads", "1", "--epochs", "1", "--lr", "1e6", "--out", out]);
    if (r.status !== 0) throw new Error(describeResult(r));
    expect(r.status).toBe(0);
    const warnings = lines(r.stdout).filter((l) => l.includes("warning:"));
    expect(warnings.length).toBe(1);
    const m = /warning: test accuracy (\d\.\d{4}), train loss (\S+) after epoch 1: training has most likely diverged .*; lower --lr \(e\.g\. 1e-3\)$/.exec(warnings[0]);
    if (!m) throw new Error(`unexpected warning line: ${warnings[0]}`);
    const epoch = lines(fs.readFileSync(path.join(out, "metrics.jsonl"), "utf8"))
      .map((l) => JSON.parse(l) as { type: string; test_acc: number; train_loss: number })
      .find((e) => e.type === "epoch")!;
    expect(m[1]).toBe(epoch.test_acc.toFixed(4));
    expect(m[2]).toBe(epoch.train_loss.toPrecision(4));
    // the condition that fired here: a mean train loss far above ln(10) ≈ 2.3
    expect(epoch.train_loss).toBeGreaterThan(100);
  });

  test("--ep cuda without the CUDA provider fails at once, saying how to install it", () => {
    const r = train(["--data", synth, ...SMALL, "--ep", "cuda", "--out", tmp.sub("o-cuda")]);
    // onnxruntime's native logger also prints its own "[E:onnxruntime:…] Failed to load library"
    // line to stderr before alexc's message (a known wart, see the report: setting
    // ort.env.logLevel = "fatal" before the first session hides it). Only alexc's lines count here.
    const own = { ...r, stderr: lines(r.stderr).filter((l) => !/\[E:onnxruntime:|^\s*\x1b\[m\s*$/.test(l)).join("\n") };
    expectCleanFailure(own, /^alexc: --ep cuda: .*CUDA execution provider is not installed.*npm rebuild onnxruntime-node/);
    expect(r.status).toBe(7);
    expect(r.ms).toBeLessThan(30_000);
    expect(fs.existsSync(path.join(tmp.dir, "o-cuda", "checkpoint.ckpt"))).toBe(false);
  });
});
