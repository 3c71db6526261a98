/**
 * `alexc train --dist mpi` under `mpirun -np 2` (Open MPI): 2 ranks × half a batch take the step
 * 1 process × the whole batch takes (LeNet, and a small CNN with live dropout), the ranks stay bit-identical,
 * `--resume` of a 2-rank run is exact, a rank killed mid-epoch ends the job at once with the last
 * checkpoint intact and resumable, and a missing MPI binding is one clear line on every rank.
 * Skipped, saying why, where mpirun is absent (`.ci/run` installs openmpi-bin). AlexNet's
 * equivalence (2 ranks × 16 against 1 process × 32, SGD and Adam) is `scripts/check-dist.ts`, about
 * two minutes, outside the suite's time.
 */
import * as fs from "fs";
import * as path from "path";
import { loadCheckpoint, type Checkpoint } from "../src/train/checkpoint";
import { describeResult, lines, runAlexc, type CliResult } from "./helpers/cli";
import { mpiMissing, runMpi, startMpi } from "./helpers/mpi";
import { makeTmpDir } from "./helpers/tmp";

const DATA = "/usr/share/datasets/fashion-mnist";
const missing = mpiMissing();
if (missing) console.log(`test/dist-mpi.test.ts skipped: ${missing}`);
const describeMpi = missing ? describe.skip : describe;
const tmp = makeTmpDir("dist");
afterAll(() => tmp.remove());

function ok(r: CliResult): CliResult {
  if (r.status !== 0) throw new Error(describeResult(r));
  return r;
}

function checkpointOf(out: string): Checkpoint {
  return loadCheckpoint(path.join(out, "checkpoint.ckpt"));
}

/** The largest ‖a − b‖ / ‖b‖ over the parameters `names` of two checkpoints. */
function worstRelative(a: Checkpoint, b: Checkpoint, names: readonly string[]): { rel: number; name: string } {
  let worst = { rel: 0, name: "" };
  expect(names.length).toBeGreaterThan(0);
  for (const name of names) {
    const t = b.tensors.get(name)!;
    const other = a.tensors.get(name)!.data;
    let diff = 0;
    let norm = 0;
    t.data.forEach((v, i) => {
      diff += (other[i] - v) ** 2;
      norm += v * v;
    });
    const rel = Math.sqrt(diff / (norm || 1));
    if (rel > worst.rel) worst = { rel, name };
  }
  return worst;
}

function expectIdentical(a: Checkpoint, b: Checkpoint): void {
  expect(a.meta.step).toBe(b.meta.step);
  for (const [name, t] of b.tensors) if (!Buffer.from(a.tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))) throw new Error(`${name} differs`);
}

/** The parameters of a checkpoint: its tensors without the optimizer's state. */
function paramNames(c: Checkpoint): string[] {
  return [...c.tensors.keys()].filter((n) => !/\.(adam_m|adam_v|momentum_buffer)$/.test(n));
}

/**
 * Equal updates, to 1e-6 of each parameter tensor's norm. Parameters, not Adam's moments: the
 * summed shard gradients round differently from the whole batch's, and Adam's second moment of
 * an element whose gradient is near zero carries that rounding at full relative size.
 */
function expectSameStep(single: Checkpoint, dist: Checkpoint): void {
  expect(dist.meta.step).toBe(1);
  const worst = worstRelative(dist, single, paramNames(single));
  if (worst.rel > 1e-6) throw new Error(`${worst.name}: ${worst.rel} relative`);
}

/** One step of `model` on `batch` images: one process against two ranks of half the batch each. */
function oneStepBoth(model: string, batch: number, extra: readonly string[]): { single: Checkpoint; dist: Checkpoint } {
  const args = ["train", model, "--data", DATA, "--train-limit", String(batch), "--test-limit", "8", "--batch-size", String(batch), "--epochs", "1", ...extra];
  const single = tmp.sub("single");
  ok(runAlexc([...args, "--threads", "1", "--out", single], { timeoutMs: 120_000 }));
  const dist = tmp.sub("dist");
  ok(runMpi(2, [...args, "--dist", "mpi", "--out", dist], { timeoutMs: 120_000 }));
  return { single: checkpointOf(single), dist: checkpointOf(dist) };
}

describeMpi("alexc train --dist mpi (mpirun -np 2)", () => {
  const small = ["train", "models/lenet.ts", "--data", DATA, "--test-limit", "64", "--batch-size", "16", "--dist", "mpi"];

  test("LeNet: 2 ranks × batch 16 take the step 1 process × batch 32 takes (1e-6 relative)", () => {
    const { single, dist } = oneStepBoth("models/lenet.ts", 32, []);
    expectSameStep(single, dist);
  });

  test("small CNN with dropout: each rank's masks are its rows of the whole batch's (1e-6 relative)", () => {
    // Dropout(0.5) is live in this model: masks drawn per rank-local batch would change the step far beyond 1e-6.
    const { single, dist } = oneStepBoth("test/fixtures/small-cnn.ts", 32, []);
    expectSameStep(single, dist);
  });

  test("LeNet: the ranks stay bit-identical over 20 steps, and --resume of a 2-rank run is exact", () => {
    const straight = tmp.sub("straight");
    const r = ok(runMpi(2, [...small, "--train-limit", "160", "--epochs", "2", "--out", straight]));
    expect(r.stdout).toMatch(/ranks agree at the end: parameters and state sha256 [0-9a-f]{16}/);
    expect(checkpointOf(straight).meta.step).toBe(20);
    const resumed = tmp.sub("resumed");
    ok(runMpi(2, [...small, "--train-limit", "160", "--epochs", "1", "--out", resumed]));
    ok(runMpi(2, [...small, "--train-limit", "160", "--epochs", "2", "--out", resumed, "--resume"]));
    expectIdentical(checkpointOf(resumed), checkpointOf(straight));
    // Only rank 0 writes: one metrics line per step, not one per rank.
    const steps = lines(fs.readFileSync(path.join(straight, "metrics.jsonl"), "utf8")).filter((l) => l.includes('"type":"step"'));
    expect(steps.length).toBe(20);
  });

  test("a rank killed mid-epoch ends the job within seconds; the last checkpoint stays readable and --resume continues", async () => {
    const out = tmp.sub("killed");
    const args = [...small, "--train-limit", "4096", "--epochs", "3", "--out", out];
    const job = startMpi(2, args);
    const ckpt = path.join(out, "checkpoint.ckpt");
    for (let i = 0; i < 600 && !fs.existsSync(ckpt); i++) await new Promise((res) => setTimeout(res, 100));
    expect(fs.existsSync(ckpt)).toBe(true);
    const victim = job.rankPid(1)!;
    expect(victim).toBeGreaterThan(0);
    const killedAt = Date.now();
    process.kill(victim, "SIGKILL");
    const r = await job.done;
    expect(Date.now() - killedAt).toBeLessThan(10_000);
    expect(r.status).not.toBe(0);
    expect(r.stderr + r.stdout).toMatch(/rank 1 .*(signal 9|Killed)/s);
    // The survivor says why it ended: mpirun's SIGTERM, or MPI's own error handler where it saw the dead peer first.
    expect(r.stderr).toMatch(/alexc: --dist mpi: rank 0 terminated \(SIGTERM|MPI_ERRORS_ARE_FATAL/);
    expect(checkpointOf(out).meta).toMatchObject({ epoch: 1, step: 256 });
    ok(runMpi(2, [...small, "--train-limit", "4096", "--epochs", "2", "--out", out, "--resume"], { timeoutMs: 120_000 }));
    expect(checkpointOf(out).meta).toMatchObject({ epoch: 2, step: 512 });
  });

  test("without the MPI binding every rank says so in one line and the job exits non-zero", () => {
    const r = runMpi(2, [...small, "--train-limit", "32", "--out", tmp.sub("nompi")], { env: { ALEXC_MPI_ADDON: "/nonexistent/alexc_mpi.node" } });
    expect(r.status).not.toBe(0);
    const said = lines(r.stderr).filter((l) => l.startsWith("alexc: --dist mpi: alexc's MPI binding is not built"));
    expect(said.length).toBe(2);
  });
});
