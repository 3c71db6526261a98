/**
 * alexc vs PyTorch on the same AlexNet batch, measured side by side in one run:
 * forward time, training-step time, their ratio, throughput ratio against PyTorch, peak RSS.
 *
 *   npx tsx scripts/bench-step.ts [--batches 32,128] [--reps 3] [--warmup 1] [--rounds 1] [--nchwc on|off] [--winograd on|off] [--native on|off]
 *
 * alexc's step runs as `alexc train` runs it (Winograd and NCHWc convolutions, alexc's binding).
 * Its forward is measured three ways, and the step is divided by each: as exported (constant
 * weights, onnxruntime's own convolutions; the issue's "forward pass"), the same model with its
 * 3×3 and 5×5 convolutions by Winograd's algorithm (the fastest forward alexc runs), and with the
 * weights as graph inputs through the step's own CPU lowering.
 *
 * Each measurement runs in its own process, one after another (2 cores: nothing in parallel).
 * Absolute times on shared machines are noisy; the ratios are the result. `--rounds R` repeats
 * the five measurements of a batch R times, interleaved, and prints each round's ratios and their
 * median: on this machine one round's ratios move by ±20% from one run to the next.
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { MALLOC_TUNABLES, stepsInPlace } from "../src/cli/malloc-tuning";

interface Measurement {
  ms: number[];
  maxRssMB: number;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function run(cmd: string, args: string[], env: NodeJS.ProcessEnv = process.env): Measurement {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Measurement;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** The median proper: the mean of the two middle values for an even count. */
function middle(xs: number[]): number {
  const s = [...xs].sort((a, b) => a - b);
  const h = s.length >> 1;
  return s.length % 2 ? s[h] : (s[h - 1] + s[h]) / 2;
}

function main(): void {
  const batches = arg("batches", "32,128").split(",").map(Number);
  const reps = arg("reps", "3");
  const nchwc = arg("nchwc", "on") === "on" ? [] : ["--no-nchwc"];
  const winograd = arg("winograd", "on") === "on" ? [] : ["--no-winograd"];
  // Untimed runs before the timed ones, for both: a fresh alexc process's first steps page-fault
  // its heap in (batch 128: 8.7, 13.3, then ≈ 6 s); training runs hundreds of steps.
  const warmup = ["--warmup", arg("warmup", "1")];
  const root = path.resolve(__dirname, "..");
  const model = path.join(root, "models/alexnet.ts");
  const worker = path.join(__dirname, "bench/alexc-worker.ts");
  const torchWorker = path.join(__dirname, "bench/torch_worker.py");
  // The step runs as `alexc train` runs it: on alexc's own binding, updates in place, where it is
  // built (`--native off`: onnxruntime-node's), and under the malloc tunables where the trainer
  // would be (src/cli/malloc-tuning.ts).
  const native = arg("native", "on") === "on" ? [] : ["--no-native"];
  const tuned = !stepsInPlace(["train", ...native]);
  const node = (mode: string, b: number) =>
    run(
      process.execPath,
      ["--require", "tsx/cjs", worker, model, mode, String(b), reps, ...warmup, ...nchwc, ...winograd, ...native],
      mode === "step" && tuned ? { ...process.env, GLIBC_TUNABLES: MALLOC_TUNABLES } : process.env,
    );
  const torch = (mode: string, b: number) => run("/usr/bin/python3", [torchWorker, mode, String(b), reps, ...warmup]);
  console.log(
    `AlexNet (1×224×224), Adam, median of ${reps} reps after ${warmup[1]} untimed, 2 threads each; alexc's step and forward-inputs with Winograd convolutions ${winograd.length ? "off" : "on"}, NCHWc ${nchwc.length ? "off" : "on"}; ` +
      `step on ${tuned ? "onnxruntime-node's binding, malloc tunables" : "alexc's binding, updates in place"}`,
  );
  const rounds = Number(arg("rounds", "1"));
  for (const b of batches) {
    const per: Ratios[] = [];
    for (let r = 0; r < rounds; r++) {
      const af = node("forward", b);
      const afw = node("forward-winograd", b);
      const afi = node("forward-inputs", b);
      const as = node("step", b);
      const tf = torch("forward", b);
      const ts = torch("step", b);
      const [afm, afwm, afim, asm, tfm, tsm] = [af, afw, afi, as, tf, ts].map((m) => median(m.ms));
      const ips = (ms: number) => ((b * 1000) / ms).toFixed(1);
      console.log(`\nbatch ${b}${rounds > 1 ? `, round ${r + 1} of ${rounds}` : ""}`);
      console.log(`  alexc   forward ${afm.toFixed(0)} ms (${ips(afm)} img/s)   step ${asm.toFixed(0)} ms (${ips(asm)} img/s)   peak RSS step ${as.maxRssMB.toFixed(0)} MB`);
      console.log(`  PyTorch forward ${tfm.toFixed(0)} ms (${ips(tfm)} img/s)   step ${tsm.toFixed(0)} ms (${ips(tsm)} img/s)   peak RSS step ${ts.maxRssMB.toFixed(0)} MB`);
      console.log(`  alexc   forward by Winograd ${afwm.toFixed(0)} ms; with the weights as graph inputs (as the step has them) ${afim.toFixed(0)} ms`);
      const q: Ratios = {
        stepPerForward: asm / afm,
        stepPerForwardWinograd: asm / afwm,
        stepPerForwardInputs: asm / afim,
        training: tsm / asm,
        inference: tfm / afm,
        inferenceWinograd: tfm / afwm,
        rss: as.maxRssMB / ts.maxRssMB,
      };
      per.push(q);
      console.log(`  ratios: alexc step / alexc forward = ${q.stepPerForward.toFixed(2)}  (target ≤ 3.5)`);
      console.log(`          alexc step / forward by Winograd = ${q.stepPerForwardWinograd.toFixed(2)}`);
      console.log(`          alexc step / forward with weights as inputs = ${q.stepPerForwardInputs.toFixed(2)}  (forward-inputs / forward = ${(afim / afm).toFixed(2)})`);
      console.log(`          alexc training throughput / PyTorch's = ${q.training.toFixed(2)}×  (target ≥ 4)`);
      console.log(`          alexc inference throughput / PyTorch's = ${q.inference.toFixed(2)}× (by Winograd ${q.inferenceWinograd.toFixed(2)}×)`);
      console.log(`          peak RSS alexc / PyTorch (step) = ${q.rss.toFixed(2)}  (target < 1)`);
    }
    if (rounds > 1) {
      const line = (label: string, key: keyof Ratios, unit = "") =>
        `  ${label} ${middle(per.map((q) => q[key])).toFixed(2)}${unit}  (rounds: ${per.map((q) => q[key].toFixed(2)).join(", ")})`;
      console.log(`\nbatch ${b}, median over ${rounds} rounds`);
      console.log(line("alexc step / alexc forward =", "stepPerForward"));
      console.log(line("alexc step / forward by Winograd =", "stepPerForwardWinograd"));
      console.log(line("alexc step / forward with weights as inputs =", "stepPerForwardInputs"));
      console.log(line("alexc training throughput / PyTorch's =", "training", "×"));
      console.log(line("alexc inference throughput / PyTorch's =", "inference", "×"));
      console.log(line("alexc inference throughput by Winograd / PyTorch's =", "inferenceWinograd", "×"));
      console.log(line("peak RSS alexc / PyTorch (step) =", "rss"));
    }
  }
}

interface Ratios {
  stepPerForward: number;
  stepPerForwardWinograd: number;
  stepPerForwardInputs: number;
  training: number;
  inference: number;
  inferenceWinograd: number;
  rss: number;
}

main();
