/**
 * Whole training runs, alexc against PyTorch, over seeds (issue 23): does alexc learn as well?
 * After a few Adam steps two trajectories part chaotically, even PyTorch's float32 and float64,
 * so the comparison is statistical: K runs each side, and per epoch the difference of the
 * mean test accuracy and mean train loss with Welch's 95% confidence interval.
 *
 *   npx tsx scripts/parity-runs.ts lenet|lenet-epoch1|alexnet-subset|alexnet [--seeds K] [--side alexc|torch]
 *        [--dir runs/parity] [--report-only] [--markdown] [--epochs E --train-limit N --test-limit N]
 *        [--torch-blas DIR]
 *
 * alexc trains through its CLI (`alexc train`, default threads; per-epoch figures from
 * metrics.jsonl); PyTorch through scripts/parity/torch_train.py on Debian's torch (2 threads),
 * with the same model, data, preprocessing, shuffling policy, last partial batch, optimizer and
 * number of steps, and PyTorch's default initialisation. Each finished run is saved as
 * DIR/PRESET/SIDE-seedS.json and skipped when the script runs again, so a partial set resumes
 * and --report-only prints the tables from the saved runs alone. Runs go one at a time
 * (alternating sides); run it once per --side to use both sides' processes at once.
 *
 * Debian's libblas3 is netlib's reference BLAS: PyTorch's AlexNet step then spends minutes in its
 * fully connected layers. --torch-blas DIR puts DIR (a folder with an optimised libblas.so.3,
 * e.g. /usr/lib/x86_64-linux-gnu/openblas-pthread from libopenblas0-pthread) first on the
 * worker's library path; each run records the BLAS it loaded.
 */
import { spawnSync, execFileSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { summarize, welch } from "./parity/stats";

const root = path.resolve(__dirname, "..");
const SIDES = ["alexc", "torch"] as const;
type Side = (typeof SIDES)[number];

interface Preset {
  model: "lenet" | "alexnet";
  epochs: number;
  seeds: number;
  batchSize: number;
  /** The model's own default (models/*.ts), passed to both sides explicitly. */
  lr: number;
  trainLimit?: number;
  testLimit?: number;
}

const PRESETS: Record<string, Preset> = {
  // LeNet's own protocol (models/lenet.ts): full data, 10 epochs, Adam lr 1e-2.
  lenet: { model: "lenet", epochs: 10, seeds: 5, batchSize: 128, lr: 1e-2 },
  // LeNet's first epoch alone, over more seeds: how soon runs leave the sigmoid plateau.
  "lenet-epoch1": { model: "lenet", epochs: 1, seeds: 12, batchSize: 128, lr: 1e-2 },
  // The seed protocol cut to what 2 CPU cores run in a session: one epoch of 4,096 images.
  "alexnet-subset": { model: "alexnet", epochs: 1, seeds: 3, batchSize: 128, lr: 1e-3, trainLimit: 4096, testLimit: 2000 },
  // The seed protocol itself (3 epochs, full data): hours per run on a CPU.
  alexnet: { model: "alexnet", epochs: 3, seeds: 3, batchSize: 128, lr: 1e-3 },
};

interface EpochResult {
  epoch: number;
  train_loss: number;
  train_acc: number;
  test_acc: number;
  test_correct: number;
  time_s: number;
  /** Each step's batch loss (runs saved before this field have none). */
  step_losses?: number[];
}

interface RunResult {
  side: Side;
  model: string;
  seed: number;
  config: Record<string, unknown>;
  epochs: EpochResult[];
}

function parseArgs(argv: string[]) {
  const [name, ...rest] = argv;
  const preset = PRESETS[name];
  if (!preset) throw new Error(`usage: parity-runs.ts ${Object.keys(PRESETS).join("|")} [options]; got '${name ?? ""}'`);
  const opt = (flag: string) => {
    const i = rest.indexOf(flag);
    return i >= 0 ? rest[i + 1] : undefined;
  };
  const side = opt("--side");
  if (side !== undefined && !SIDES.includes(side as Side)) throw new Error(`--side must be alexc or torch, got '${side}'`);
  return {
    name,
    preset: {
      ...preset,
      seeds: Number(opt("--seeds") ?? preset.seeds),
      epochs: Number(opt("--epochs") ?? preset.epochs),
      trainLimit: opt("--train-limit") ? Number(opt("--train-limit")) : preset.trainLimit,
      testLimit: opt("--test-limit") ? Number(opt("--test-limit")) : preset.testLimit,
    },
    sides: side ? [side as Side] : [...SIDES],
    dir: path.resolve(opt("--dir") ?? path.join(root, "runs/parity"), name),
    torchBlas: opt("--torch-blas"),
    reportOnly: rest.includes("--report-only"),
    markdown: rest.includes("--markdown"),
  };
}

function resultPath(dir: string, side: Side, seed: number): string {
  return path.join(dir, `${side}-seed${seed}.json`);
}

function limitArgs(p: Preset): string[] {
  return [...(p.trainLimit ? ["--train-limit", String(p.trainLimit)] : []), ...(p.testLimit ? ["--test-limit", String(p.testLimit)] : [])];
}

function runAlexc(p: Preset, seed: number, dir: string): RunResult {
  const out = path.join(dir, `alexc-seed${seed}`);
  fs.rmSync(out, { recursive: true, force: true });
  const args = ["train", `models/${p.model}.ts`, "--seed", String(seed), "--epochs", String(p.epochs), "--batch-size", String(p.batchSize), "--lr", String(p.lr), "--out", out, ...limitArgs(p)];
  run("node", [path.join(root, "bin/alexc.js"), ...args]);
  const lines = fs
    .readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.length > 0)
    .map((l) => JSON.parse(l));
  const epochs = lines.filter((l) => l.type === "epoch");
  const stepLosses = (epoch: number) => lines.filter((l) => l.type === "step" && l.epoch === epoch).map((l) => Number(l.loss.toPrecision(5)));
  const testCount = Math.min(p.testLimit ?? 10000, 10000);
  const commit = execFileSync("git", ["rev-parse", "HEAD"], { cwd: root, encoding: "utf8" }).trim();
  return {
    side: "alexc",
    model: p.model,
    seed,
    config: { ...p, commit, test_count: testCount, command: `node bin/alexc.js ${args.join(" ")}` },
    epochs: epochs.map((e) => ({
      epoch: e.epoch,
      train_loss: e.train_loss,
      train_acc: e.train_acc,
      test_acc: e.test_acc,
      test_correct: Math.round(e.test_acc * testCount),
      time_s: e.time_s,
      step_losses: stepLosses(e.epoch),
    })),
  };
}

function runTorch(p: Preset, seed: number, file: string, blas: string | undefined): void {
  const args = [path.join(root, "scripts/parity/torch_train.py"), p.model, "--seed", String(seed), "--epochs", String(p.epochs), "--batch-size", String(p.batchSize), "--lr", String(p.lr), "--out", file, ...limitArgs(p)];
  // Threads that sleep at once at a barrier instead of spinning: on a shared, oversubscribed
  // machine a spinning OpenMP thread burns the time slice its partner needs.
  const env: Record<string, string> = { OMP_WAIT_POLICY: "PASSIVE" };
  if (blas) Object.assign(env, { LD_LIBRARY_PATH: [blas, process.env.LD_LIBRARY_PATH].filter(Boolean).join(":"), OPENBLAS_NUM_THREADS: "2" });
  run("/usr/bin/python3", args, env);
}

function run(cmd: string, args: string[], env: Record<string, string> = {}): void {
  const show = (a: string) => (path.isAbsolute(a) && !path.relative(root, a).startsWith("..") ? path.relative(root, a) : a);
  console.log(`$ ${cmd} ${args.map(show).join(" ")}`);
  const r = spawnSync(cmd, args, { cwd: root, stdio: "inherit", env: { ...process.env, ...env } });
  if (r.status !== 0) throw new Error(`${cmd} exited with ${r.status ?? r.signal}`);
}

function load(dir: string, side: Side, seeds: number): RunResult[] {
  const runs: RunResult[] = [];
  for (let s = 0; s < seeds; s++) {
    const f = resultPath(dir, side, s);
    if (fs.existsSync(f)) runs.push(JSON.parse(fs.readFileSync(f, "utf8")));
  }
  return runs;
}

const pct = (x: number) => (100 * x).toFixed(2);

function report(name: string, p: Preset, dir: string, markdown: boolean): void {
  const runs = { alexc: load(dir, "alexc", p.seeds), torch: load(dir, "torch", p.seeds) };
  console.log(`\n== ${name}: ${p.model}, ${p.epochs} epoch(s), batch ${p.batchSize}, Adam lr ${p.lr}` + `${p.trainLimit ? `, first ${p.trainLimit} train` : ""}${p.testLimit ? ` / ${p.testLimit} test images` : ""}`);
  console.log(`runs saved: alexc ${runs.alexc.length}/${p.seeds}, torch ${runs.torch.length}/${p.seeds} (${dir})\n`);
  console.log("per run: test accuracy % by epoch | mean train loss by epoch");
  for (const side of SIDES) {
    for (const r of runs[side]) {
      console.log(`${side.padEnd(5)} seed ${r.seed}: ${r.epochs.map((e) => pct(e.test_acc)).join(" ")} | ${r.epochs.map((e) => e.train_loss.toFixed(4)).join(" ")}`);
    }
  }
  // LeNet's sigmoids start on a plateau at ln 10 ≈ 2.30 that a run leaves after a number of
  // steps that varies much from seed to seed: where the epoch means differ, this says whether
  // the exits do.
  const exits = (side: Side) => runs[side].map((r) => plateauExit(r.epochs[0]?.step_losses)).filter((x): x is number => x !== undefined);
  if (exits("alexc").length + exits("torch").length > 0) {
    console.log(`\nfirst step whose 10-step mean loss is below 2.0 (epoch 1; ∞: not within it): alexc ${fmtExits(exits("alexc"))}; torch ${fmtExits(exits("torch"))}`);
  }
  tables(runs, p.epochs, markdown, "");
  // A sigmoid LeNet can stay on the plateau for all its epochs (either side): such a run is a
  // different outcome, not a noisier one, and its 10% swamps the others' means.
  const atChance = (r: RunResult) => (r.epochs[r.epochs.length - 1]?.test_acc ?? 0) <= CHANCE;
  const stuck = { alexc: runs.alexc.filter(atChance), torch: runs.torch.filter(atChance) };
  if (stuck.alexc.length + stuck.torch.length > 0) {
    const seeds = (rs: RunResult[]) => `${rs.length}${rs.length ? ` (seed ${rs.map((r) => r.seed).join(", ")})` : ""}`;
    console.log(`\nruns at chance (test accuracy ≤ ${pct(CHANCE)}%) after the last epoch: alexc ${seeds(stuck.alexc)} of ${runs.alexc.length}, torch ${seeds(stuck.torch)} of ${runs.torch.length}`);
    const learned = { alexc: runs.alexc.filter((r) => !atChance(r)), torch: runs.torch.filter((r) => !atChance(r)) };
    tables(learned, p.epochs, markdown, ", over the runs that left chance");
  }
}

const CHANCE = 0.11;

function tables(runs: Record<Side, RunResult[]>, epochs: number, markdown: boolean, which: string): void {
  for (const [metric, fmt, unit] of [
    ["test_acc", pct, "test accuracy, %"],
    ["train_loss", (x: number) => x.toFixed(4), "mean train loss"],
  ] as const) {
    console.log(`\n${unit}${which}: mean ± standard error over seeds (runs); alexc − torch with Welch's 95% CI`);
    const rows: string[][] = [];
    for (let e = 1; e <= epochs; e++) {
      const at = (side: Side) => runs[side].map((r) => r.epochs[e - 1]?.[metric]).filter((x): x is number => x !== undefined);
      const sa = summarize(at("alexc"));
      const st = summarize(at("torch"));
      if (sa.n === 0 && st.n === 0) continue;
      const cell = (s: typeof sa) => (s.n === 0 ? "–" : `${fmt(s.mean)} ± ${Number.isNaN(s.se) ? "?" : fmt(s.se)} (${s.n})`);
      let diff = ["–", "–", ""];
      if (sa.n >= 2 && st.n >= 2) {
        const d = welch(sa, st);
        diff = [`${fmt(d.diff)} ± ${fmt(d.se)}`, `[${fmt(d.lo)}, ${fmt(d.hi)}]`, d.beyond2se ? "beyond 2 SE" : "within 2 SE"];
      }
      rows.push([String(e), cell(sa), cell(st), ...diff]);
    }
    printTable(["epoch", "alexc", "torch", "alexc − torch", "95% CI", "verdict"], rows, markdown);
  }
}

/** The first step at which the mean of the last 10 batch losses is below 2.0; Infinity if none; undefined without step losses. */
function plateauExit(losses: number[] | undefined): number | undefined {
  if (!losses?.length) return undefined;
  let sum = 0;
  for (let i = 0; i < losses.length; i++) {
    sum += losses[i] - (i >= 10 ? losses[i - 10] : 0);
    if (i >= 9 && sum / 10 < 2.0) return i + 1;
  }
  return Infinity;
}

function fmtExits(xs: number[]): string {
  if (xs.length === 0) return "–";
  const sorted = [...xs].sort((a, b) => a - b);
  return `${sorted.map((x) => (x === Infinity ? "∞" : String(x))).join(", ")} (median ${sorted[Math.floor((sorted.length - 1) / 2)]})`;
}

function printTable(head: string[], rows: string[][], markdown: boolean): void {
  if (markdown) {
    console.log(`| ${head.join(" | ")} |\n|${head.map(() => "---").join("|")}|`);
    for (const r of rows) console.log(`| ${r.join(" | ")} |`);
    return;
  }
  const widths = head.map((h, i) => Math.max(h.length, ...rows.map((r) => r[i].length)));
  for (const r of [head, ...rows]) console.log(r.map((c, i) => c.padEnd(widths[i])).join("  "));
}

function main(): void {
  const { name, preset, sides, dir, torchBlas, reportOnly, markdown } = parseArgs(process.argv.slice(2));
  fs.mkdirSync(dir, { recursive: true });
  if (!reportOnly) {
    for (let seed = 0; seed < preset.seeds; seed++) {
      for (const side of sides) {
        const file = resultPath(dir, side, seed);
        if (fs.existsSync(file)) continue;
        if (side === "torch") runTorch(preset, seed, file, torchBlas);
        else {
          fs.writeFileSync(`${file}.tmp`, JSON.stringify(runAlexc(preset, seed, dir), null, 1));
          fs.renameSync(`${file}.tmp`, file);
        }
      }
    }
  }
  report(name, preset, dir, markdown);
}

main();
