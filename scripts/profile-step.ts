/**
 * Where a training step's time goes, per op type and execution provider (onnxruntime's profiler):
 *
 *   npx tsx scripts/profile-step.ts [--model models/alexnet.ts] [--ep cpu|webgpu|cuda] [--batch 32] [--runs 3] [--top 25] [--nodes 0] [--native on|off] [--winograd on|off] [--nchwc on|off]
 *
 * Runs the step as the trainer does for that provider (the WebGPU lowering for webgpu, dropout
 * masks as inputs otherwise; on the CPU, the trainer's convolution lowering (passes/cpu.ts) and
 * alexc's own binding with the updates in place where it is built, onnxruntime-node's with
 * `--native off`), profiles every run, and reports the last one: wall time, kernel
 * time per provider, the op types that took longest, and the ops that onnxruntime placed on the
 * CPU although another provider was asked for (each such node costs copies between devices).
 * `--nodes N` also lists the N slowest single nodes with their input shapes.
 * With a GPU provider, kernel times are the host's time to launch the work; copies and CPU
 * fallbacks still show. Where the step does not run in place, the script re-runs itself on Linux
 * under `alexc train`'s malloc tunables (src/cli/malloc-tuning.ts), as the trainer does: without
 * them the page faults of fresh buffers are charged to the kernels that touch them first (batch
 * 128, 5th run: ScatterElements 0.38 s instead of 0.08 s, all kernels 7.5 s instead of 6.6 s).
 * Profile ≥ 5 runs: the first ones warm up.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ModelDef } from "../src/graph/dsl";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import { cpuPasses } from "../src/passes/cpu";
import { runPasses } from "../src/passes/run";
import { cpuStepGradients } from "../src/passes/winograd";
import { nchwcBlockSize } from "../src/train/nchwc-probe";
import { relaunchUnderMallocTuning, stepsInPlace } from "../src/cli/malloc-tuning";
import { createStepSession, type ExecutionProvider } from "../src/train/session";
import { next } from "../src/train/step";
import { batchFeeds, maskFeeds, stateFeeds } from "./bench/step-feeds";

interface ProfileEvent {
  cat: string;
  name: string;
  ts: number;
  dur: number;
  args?: { op_name?: string; provider?: string; input_type_shape?: Record<string, number[]>[] };
}

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const ep = arg("ep", "cpu") as ExecutionProvider;
  const native = arg("native", "on") === "on";
  const inPlace = stepsInPlace(["train", "--ep", ep, ...(native ? [] : ["--no-native"])]);
  if (!inPlace && relaunchUnderMallocTuning(process.argv.slice(2), __filename)) return;
  const batch = Number(arg("batch", "32"));
  const runs = Number(arg("runs", "3"));
  const top = Number(arg("top", "25"));
  const slowest = Number(arg("nodes", "0"));
  const def = (require(path.resolve(arg("model", path.join(__dirname, "../models/alexnet.ts")))) as { default: ModelDef }).default;
  const program = programFromModel(def, adam(), 0);
  const cpu = { blockSize: arg("nchwc", "on") === "on" ? await nchwcBlockSize() : 1, winograd: arg("winograd", "on") === "on", batch };
  const { graph: stepGraph, masks } = ep === "webgpu" ? program.loweredStepGraph("webgpu") : program.loweredStepGraph("dropout", cpuStepGradients(cpu));
  const graph = ep === "cpu" ? runPasses(stepGraph, cpuPasses(cpu)) : stepGraph;
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alexc-profile-"));
  const names = program.mutable.map((t) => t.name);
  const session = await createStepSession(graph, { ep, keepOnDevice: names.map(next), profilePrefix: path.join(dir, "step"), mutable: names, native });
  console.log(`step: ${session.runner}`);

  const feeds = { ...batchFeeds(program, batch), ...maskFeeds(masks, batch, 0), ...stateFeeds(program) };
  const wall: number[] = [];
  for (let r = 0; r < runs; r++) {
    const t0 = performance.now();
    const out = await session.run(feeds);
    void out.loss.data[0];
    for (const name of names) feeds[name] = out[next(name)];
    wall.push(performance.now() - t0);
  }
  session.endProfiling();
  await session.release();

  const file = fs.readdirSync(dir).find((f) => f.endsWith(".json"));
  if (!file) throw new Error(`no profile written in ${dir}`);
  const events = JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as ProfileEvent[];
  const lastRun = events.filter((e) => e.cat === "Session" && e.name === "model_run").pop()!;
  const nodes = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time") && e.ts >= lastRun.ts && e.ts <= lastRun.ts + lastRun.dur);
  const byProvider = new Map<string, number>();
  const byOp = new Map<string, { us: number; count: number }>();
  for (const e of nodes) {
    const provider = e.args?.provider ?? "?";
    byProvider.set(provider, (byProvider.get(provider) ?? 0) + e.dur);
    const key = `${e.args?.op_name ?? "?"} on ${provider}`;
    const s = byOp.get(key) ?? { us: 0, count: 0 };
    s.us += e.dur;
    s.count++;
    byOp.set(key, s);
  }
  console.log(`${def.spec.name} step, batch ${batch}, --ep ${ep}: wall per run ${wall.map((t) => t.toFixed(0)).join(", ")} ms; profiled run ${(lastRun.dur / 1000).toFixed(1)} ms`);
  console.log(`kernel time by provider: ${[...byProvider].map(([p, us]) => `${p} ${(us / 1000).toFixed(1)} ms`).join(", ")}`);
  console.log(`top ${top} op types (last run):`);
  for (const [key, s] of [...byOp].sort((a, b) => b[1].us - a[1].us).slice(0, top)) {
    console.log(`  ${(s.us / 1000).toFixed(2).padStart(9)} ms  ${String(s.count).padStart(4)}×  ${key}`);
  }
  const describe = (e: ProfileEvent): string => {
    const shapes = (e.args?.input_type_shape ?? []).map((t) => Object.entries(t).map(([ty, d]) => `${ty}[${d.join(",")}]`)).join(" ");
    return `    ${(e.dur / 1000).toFixed(2)} ms  ${e.args?.op_name ?? "?"} ${e.name.replace(/_kernel_time$/, "")}  ${shapes}`;
  };
  if (slowest > 0) {
    console.log(`${slowest} slowest nodes (last run):`);
    for (const e of [...nodes].sort((a, b) => b.dur - a.dur).slice(0, slowest)) console.log(describe(e));
  }
  if (ep !== "cpu") {
    const onCpu = [...byOp].filter(([key]) => key.endsWith("on CPUExecutionProvider"));
    console.log(`on the CPU instead of ${ep}: ${onCpu.map(([key, s]) => `${key.replace(/ on .*/, "")}×${s.count}`).join(", ") || "none"}`);
    for (const e of nodes.filter((e) => e.args?.provider === "CPUExecutionProvider").sort((a, b) => b.dur - a.dur).slice(0, 10)) console.log(describe(e));
  }
  fs.rmSync(dir, { recursive: true, force: true });
}

main().catch((e) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
