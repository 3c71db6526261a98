/**
 * kill -9 soak of `alexc train` (issue 22): LeNet on a small slice of FashionMNIST, killed again
 * and again at random points — after a random delay (mostly during a step), during the checkpoint
 * write, during the evaluation, during the final model write (ALEXC_PAUSE_AT, src/emit/pause-point.ts)
 * — and resumed each time with --resume (or started afresh where it says there is nothing to resume).
 * After every kill: the checkpoint, if there is one, loads (never corrupt) and the final .onnx, if
 * there is one, is whole. Each round ends with a run that finishes; its lenet.onnx must be byte for
 * byte the straight run's, and no temp file may be left.
 *
 *   npx tsx scripts/kill-soak.ts [--minutes 30] [--seed 1] [--dir /tmp/kill-soak] [--kills-per-round 8]
 *
 * Prints one line per round and a summary (rounds, kills by point, resumes, failures); exits 1 on
 * any failure.
 */
import * as fs from "fs";
import * as path from "path";
import { Rng } from "../src/graph/random";
import { loadCheckpoint } from "../src/train/checkpoint";
import { isNothingToResume, sameBytes, tempFiles, trainKilled, type KillAt } from "../test/helpers/kill-run";

function flag(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const minutes = Number(flag("minutes", "30"));
const seed = Number(flag("seed", "1"));
const root = flag("dir", "/tmp/kill-soak");
const killsPerRound = Number(flag("kills-per-round", "8"));
const ARGS = ["models/lenet.ts", "--data", "/usr/share/datasets/fashion-mnist", "--train-limit", "2048", "--test-limit", "512", "--batch-size", "64", "--epochs", "4", "--threads", "1"];
/** Batches of one evaluation (512 test images in batches of 64). */
const EVAL_BATCHES = 8;

const tally = { rounds: 0, kills: {} as Record<string, number>, resumes: 0, nothingToResume: 0, failures: [] as string[] };

/**
 * A random kill point: a delay within the straight run's time, or a named point at a visit this
 * process is likely to reach (its first or second checkpoint write, a batch of its first evaluation).
 */
function killPoint(rng: Rng, straightMs: number): [string, KillAt] {
  const r = rng.nextFloat();
  if (r < 0.4) return ["delay", { afterMs: Math.floor(rng.nextFloat() * straightMs) }];
  if (r < 0.65) return ["checkpoint write", { pauseAt: `write:checkpoint.ckpt#${1 + rng.nextInt(2)}` }];
  if (r < 0.9) return ["evaluation", { pauseAt: `evaluate#${1 + rng.nextInt(EVAL_BATCHES)}` }];
  return ["final model write", { pauseAt: "write:lenet.onnx" }];
}

/** What must hold after any kill: a loadable checkpoint if any, and a final model only if whole. */
function checkAfterKill(out: string, reference: string, what: string): void {
  const ckpt = path.join(out, "checkpoint.ckpt");
  if (fs.existsSync(ckpt)) {
    try {
      loadCheckpoint(ckpt);
    } catch (e) {
      tally.failures.push(`${what}: ${(e as Error).message}`);
    }
  }
  const model = path.join(out, "lenet.onnx");
  if (fs.existsSync(model) && !sameBytes(model, reference)) tally.failures.push(`${what}: ${model} differs from the straight run's`);
}

async function round(n: number, rng: Rng, reference: string, straightMs: number): Promise<void> {
  const out = path.join(root, `round-${n}`);
  fs.rmSync(out, { recursive: true, force: true });
  const points: string[] = [];
  let resume = false;
  for (let attempt = 0; ; attempt++) {
    const [name, at] = attempt < killsPerRound ? killPoint(rng, straightMs) : ["none", "never" as const];
    const r = await trainKilled([...ARGS, "--out", out, ...(resume ? ["--resume"] : [])], at);
    if (resume) tally.resumes++;
    if (isNothingToResume(r)) {
      tally.nothingToResume++;
      resume = false;
      continue;
    }
    if (r.killed) {
      tally.kills[name] = (tally.kills[name] ?? 0) + 1;
      points.push(name);
      checkAfterKill(out, reference, `round ${n} after a kill at ${name}`);
      resume = true;
      continue;
    }
    if (r.status !== 0) tally.failures.push(`round ${n}: exit ${r.status}: ${r.stderr.trim().split("\n").pop()}`);
    else if (!sameBytes(path.join(out, "lenet.onnx"), reference)) tally.failures.push(`round ${n}: final weights differ from the straight run's`);
    else if (tempFiles(out).length) tally.failures.push(`round ${n}: temp files left: ${tempFiles(out).join(", ")}`);
    console.log(`round ${n}: ${points.length} kills (${points.join(", ") || "none"}), then finished: ${r.status === 0 ? "lenet.onnx identical to the straight run's" : "FAILED"}`);
    fs.rmSync(out, { recursive: true, force: true });
    return;
  }
}

async function main(): Promise<void> {
  fs.mkdirSync(root, { recursive: true });
  const straight = path.join(root, "straight");
  fs.rmSync(straight, { recursive: true, force: true });
  const t0 = Date.now();
  const s = await trainKilled([...ARGS, "--out", straight], "never");
  if (s.status !== 0) throw new Error(`the straight run failed: ${s.stderr}`);
  const straightMs = Date.now() - t0;
  console.log(`straight run: ${(straightMs / 1000).toFixed(1)} s`);
  const rng = new Rng(seed);
  const end = Date.now() + minutes * 60_000;
  while (Date.now() < end) await round(++tally.rounds, rng, path.join(straight, "lenet.onnx"), straightMs);
  const kills = Object.values(tally.kills).reduce((a, k) => a + k, 0);
  console.log(
    `kill-soak: ${((Date.now() - t0) / 60_000).toFixed(1)} min, ${tally.rounds} rounds, ${kills} kills ${JSON.stringify(tally.kills)}, ` +
      `${tally.resumes} resumes (${tally.nothingToResume} said there was nothing to resume), ${tally.failures.length} failures`,
  );
  for (const f of tally.failures) console.log(`FAILURE ${f}`);
  process.exit(tally.failures.length ? 1 : 0);
}

void main();
