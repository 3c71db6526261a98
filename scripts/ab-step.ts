/**
 * The CPU training step as two (or more) source trees build it, run alternately, step by step, in
 * one process: the A/B for a change to the step graph whose effect is smaller than this machine's
 * run-to-run noise (±20% between processes, a few % between neighbouring steps).
 *
 *   git worktree add /tmp/alexc-base <commit> && ln -s "$PWD/node_modules" /tmp/alexc-base/ && (cd /tmp/alexc-base && bash scripts/build-native.sh)
 *   npx tsx scripts/ab-step.ts [--batch 32] [--steps 10] [--pause 100] [--model models/alexnet.ts] /tmp/alexc-base .
 *
 * Each tree's own program, CPU lowering and step session are used (alexc's binding, updates in
 * place, as `alexc train` runs the step; onnxruntime-node's where the tree's binding is not built:
 * each tree's runner is printed first, check that they match), with
 * Adam, the benchmark's synthetic batch and dropout masks as inputs. Two untimed steps each come
 * first. Prints per tree the median, mean and min step time and every timed step. Peak RSS is the
 * process's, shared by all trees: compare memory with `scripts/bench/alexc-worker.ts` instead.
 * Between steps the script waits `--pause` ms (untimed): after a run, onnxruntime's intra-op
 * threads spin for a while before they sleep, and the next session's run would share the cores
 * with them (LeNet at batch 128, two sessions alternating: 37.8 ms a step without a pause,
 * 20.1 ms with 50 ms, 18.9 ms for one session alone).
 */
import * as path from "path";
import { carryOver } from "./bench/step-feeds";

interface Tree {
  dir: string;
  step: () => Promise<void>;
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function positional(): string[] {
  const out: string[] = [];
  for (let i = 2; i < process.argv.length; i++) {
    if (process.argv[i].startsWith("--")) i++;
    else out.push(process.argv[i]);
  }
  return out;
}

async function load(dir: string, model: string, batch: number): Promise<Tree> {
  // Each tree's modules are its own files, so nothing is shared between trees but onnxruntime.
  const req = (m: string) => require(path.join(dir, m));
  const def = req(model).default;
  const { adam } = req("src/train/optim/adam");
  const { programFromModel } = req("src/train/program-dsl");
  const { createStepSession } = req("src/train/session");
  const { STEP_COUNTER } = req("src/train/step");
  const { batchFeeds, maskFeeds, stateFeeds } = req("scripts/bench/step-feeds");
  const program = programFromModel(def, adam(), 0);
  const names: string[] = program.mutable.map((t: { name: string }) => t.name);
  const { step, masks } = await cpuStep(req, program, batch);
  const session = await createStepSession(step, { memoryPattern: false, mutable: names, native: true });
  process.stderr.write(`${dir}: ${session.runner}\n`);
  const feeds = { ...batchFeeds(program, batch, 0, 1e-4), ...maskFeeds(masks, batch, 0), ...stateFeeds(program) };
  const carried = [...names, STEP_COUNTER];
  return {
    dir,
    step: async () => carryOver(feeds, await session.run(feeds), carried),
  };
}

/**
 * The tree's CPU step as its trainer lowers it: on the IR through src/passes where the tree has
 * them, as bytes through src/train/lower-cpu.ts before (trees before lowerForCpu had NCHWc alone).
 */
// eslint-disable-next-line @typescript-eslint/no-explicit-any -- each tree has its own types
async function cpuStep(req: (m: string) => any, program: any, batch: number): Promise<{ step: unknown; masks: unknown }> {
  const passes = (() => {
    try {
      return req("src/passes/cpu");
    } catch {
      return undefined;
    }
  })();
  if (passes) {
    const { nchwcBlockSize } = req("src/train/nchwc-probe");
    const { cpuStepGradients } = req("src/passes/winograd");
    const { runPasses } = req("src/passes/run");
    const cpu = { blockSize: await nchwcBlockSize(), winograd: true, batch };
    const lowered = program.loweredStepGraph("dropout", cpuStepGradients(cpu));
    return { step: runPasses(lowered.graph, passes.cpuPasses(cpu)), masks: lowered.masks };
  }
  const { cpuStepGradients, lowerConvsToNchwc, lowerForCpu, nchwcBlockSize } = req("src/train/lower-cpu");
  const cpu = { blockSize: await nchwcBlockSize(), winograd: true, batch };
  const lowered = program.loweredStepModel("dropout", cpuStepGradients ? cpuStepGradients(cpu) : undefined);
  const bytes = lowerForCpu ? lowerForCpu(lowered.bytes, cpu).bytes : lowerConvsToNchwc(lowered.bytes, cpu.blockSize).bytes;
  return { step: bytes, masks: lowered.masks };
}

async function main(): Promise<void> {
  const batch = Number(arg("batch", "32"));
  const steps = Number(arg("steps", "10"));
  const pause = Number(arg("pause", "100"));
  const model = arg("model", "models/alexnet.ts");
  const dirs = positional().map((d) => path.resolve(d));
  if (dirs.length < 2) throw new Error("usage: ab-step.ts [--batch B] [--steps N] [--pause MS] [--model FILE] TREE TREE...");
  const trees: Tree[] = [];
  for (const d of dirs) trees.push(await load(d, model, batch));
  const ms: number[][] = trees.map(() => []);
  for (let r = 0; r < steps + 2; r++) {
    for (let q = 0; q < trees.length; q++) {
      await new Promise((resolve) => setTimeout(resolve, pause));
      const t0 = performance.now();
      await trees[q].step();
      if (r >= 2) ms[q].push(performance.now() - t0);
    }
  }
  console.log(`${model}, batch ${batch}, ${steps} timed steps per tree, alternating`);
  trees.forEach((t, q) => {
    const s = [...ms[q]].sort((a, b) => a - b);
    const mean = s.reduce((a, b) => a + b, 0) / s.length;
    console.log(`${t.dir}: median ${s[s.length >> 1].toFixed(0)} ms, mean ${mean.toFixed(0)}, min ${s[0].toFixed(0)} | ${ms[q].map((v) => v.toFixed(0)).join(" ")}`);
  });
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).message}\n`);
  process.exit(1);
});
