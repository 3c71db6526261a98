/**
 * Issue 21's equivalence check at full size: one step of a model on the first B training images,
 * one process × B against `mpirun -np 2` × B/2 (`alexc train --dist mpi`), with SGD and with
 * Adam, on the real FashionMNIST files. Prints, per optimizer, ‖Δ‖/‖p‖ over all parameters, the
 * worst parameter tensor's ‖Δ‖/‖p‖ and elementwise max|Δ| / max|p|. For Adam it also prints, for
 * the elements whose two updates differ by more than 1e-3·lr, the largest |gradient| among them
 * (the gradient from the one-process SGD step at lr 1 from the same start): Adam's first update
 * lr·g/(|g| + ε) turns the rounding of a gradient near zero into a difference of up to lr.
 *
 *   npx tsx scripts/check-dist.ts [--model models/alexnet.ts] [--batch 32]
 *
 * test/dist-mpi.test.ts checks LeNet and a small CNN within the suite's time; AlexNet at batch 32
 * takes minutes, so its figures come from here (docs/distributed.md holds them and the run time).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { loadModelFile } from "../src/cli/load-model";
import { loadCheckpoint, type Checkpoint } from "../src/train/checkpoint";
import { makeOptimizer } from "../src/train/optim/make";
import { programFromModel } from "../src/train/program-dsl";

const ROOT = path.resolve(__dirname, "..");
const BIN = path.join(ROOT, "bin", "alexc.js");
const DATA = "/usr/share/datasets/fashion-mnist";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function run(cmd: string, args: string[]): void {
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
  const r = spawnSync(cmd, args, { cwd: ROOT, encoding: "utf8", maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed (${r.status}):\n${r.stderr}`);
}

/** One step on `batch` images as one process (threads 1, as each rank) and as 2 ranks; their checkpoints. */
function oneStep(model: string, batch: number, extra: string[], dir: string): { single: Checkpoint; dist: Checkpoint } {
  const args = ["train", model, "--data", DATA, "--train-limit", String(batch), "--test-limit", "8", "--batch-size", String(batch), "--epochs", "1", ...extra];
  const single = path.join(dir, "single");
  const dist = path.join(dir, "dist");
  run(process.execPath, [BIN, ...args, "--threads", "1", "--out", single]);
  run("mpirun", ["-np", "2", "--oversubscribe", process.execPath, BIN, ...args, "--dist", "mpi", "--out", dist]);
  return { single: loadCheckpoint(path.join(single, "checkpoint.ckpt")), dist: loadCheckpoint(path.join(dist, "checkpoint.ckpt")) };
}

const isParam = (name: string) => !/\.(adam_m|adam_v|momentum_buffer)$/.test(name);

interface Worst {
  norm: { value: number; name: string };
  elem: { value: number; name: string };
  /** ‖Δ‖/‖p‖ over every parameter as one vector. */
  all: number;
}

function compare(a: Checkpoint, b: Checkpoint): Worst {
  const worst: Worst = { norm: { value: 0, name: "" }, elem: { value: 0, name: "" }, all: 0 };
  let [diffAll, normAll] = [0, 0];
  for (const [name, t] of b.tensors) {
    if (!isParam(name)) continue;
    const other = a.tensors.get(name)!.data;
    let diff = 0;
    let norm = 0;
    let maxDiff = 0;
    let maxP = 0;
    t.data.forEach((v, i) => {
      diff += (other[i] - v) ** 2;
      norm += v * v;
      maxDiff = Math.max(maxDiff, Math.abs(other[i] - v));
      maxP = Math.max(maxP, Math.abs(v));
    });
    [diffAll, normAll] = [diffAll + diff, normAll + norm];
    const rel = Math.sqrt(diff / (norm || 1));
    if (rel > worst.norm.value) worst.norm = { value: rel, name };
    if (maxDiff / (maxP || 1) > worst.elem.value) worst.elem = { value: maxDiff / (maxP || 1), name };
  }
  worst.all = Math.sqrt(diffAll / (normAll || 1));
  return worst;
}

const summary = (w: Worst) =>
  `‖Δ‖/‖p‖ ${w.all.toExponential(2)} over all parameters, worst tensor ${w.norm.value.toExponential(2)} (${w.norm.name}); ` +
  `worst max|Δ|/max|p| ${w.elem.value.toExponential(2)} (${w.elem.name})`;

function main(): void {
  const model = arg("model", "models/alexnet.ts");
  const batch = Number(arg("batch", "32"));
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alexc-check-dist-"));
  try {
    const start = programFromModel(loadModelFile(path.join(ROOT, model)), makeOptimizer("sgd"), 0).initial().tensors;
    console.log(`${model}: one step on the first ${batch} training images, 1 process × ${batch} against 2 ranks × ${batch / 2}`);
    const sgd = oneStep(model, batch, ["--optimizer", "sgd", "--lr", "1"], path.join(dir, "sgd"));
    const s = compare(sgd.dist, sgd.single);
    console.log(`  SGD lr 1:    ${summary(s)}`);
    const lr = 1e-3;
    const adam = oneStep(model, batch, ["--optimizer", "adam", "--lr", String(lr)], path.join(dir, "adam"));
    const a = compare(adam.dist, adam.single);
    console.log(`  Adam lr 1e-3: ${summary(a)}`);
    // Where the two Adam updates differ, the gradient (one-process SGD at lr 1: p0 − p1) is near zero.
    let differing = 0;
    let total = 0;
    let largestG = 0;
    let sumAbsG = 0;
    for (const [name, t] of adam.single.tensors) {
      if (!isParam(name)) continue;
      const d = adam.dist.tensors.get(name)!.data;
      const p0 = start.get(name)!;
      const p1 = sgd.single.tensors.get(name)!.data;
      t.data.forEach((v, i) => {
        const g = Math.abs(p0[i] - p1[i]);
        total++;
        sumAbsG += g;
        if (Math.abs(d[i] - v) > 1e-3 * lr) {
          differing++;
          largestG = Math.max(largestG, g);
        }
      });
    }
    console.log(
      `  Adam: ${differing} of ${total} elements differ by more than 1e-3·lr; their largest |g| is ${largestG.toExponential(2)} ` +
        `(mean |g| over all elements ${(sumAbsG / total).toExponential(2)}; Adam's ε 1e-8)`,
    );
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
}

main();
