/**
 * The model table of docs/models.md: for AlexNet, VGG-11, NiN and ResNet-18, the trainable
 * parameters, `alexc build`'s wall time (with training_info), and the CPU training throughput
 * of alexc's step (as `alexc train` runs it: the CPU target's passes, alexc's binding) beside
 * PyTorch's (the d2l modules, float32) on a batch of the same size, measured in one run.
 *
 *   npx tsx scripts/bench-models.ts [--batch 16] [--reps 3] [--warmup 1] [--models alexnet,vgg11,nin,resnet18]
 *
 * Each measurement runs in its own process, one after another, 2 threads each (Adam, random
 * inputs; alexc's step also resizes the raw 28×28 images in its graph, PyTorch gets them resized).
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import type { ModelDef } from "../src/graph/dsl";
import { numel } from "../src/graph/types";
import { adam } from "../src/train/optim/adam";
import { buildStepGraph } from "../src/train/step";

const ROOT = path.resolve(__dirname, "..");

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function json(cmd: string, args: string[]): { ms: number[] } {
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24, cwd: ROOT });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as { ms: number[] };
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

/** Wall seconds of `alexc build` (a fresh process, as a user runs it). */
function buildSeconds(model: string): number {
  const out = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "bench-models-")), "m.onnx");
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [path.join(ROOT, "bin/alexc.js"), "build", model, "-o", out], { encoding: "utf8", cwd: ROOT });
  if (r.status !== 0) throw new Error(r.stderr);
  const s = (Date.now() - t0) / 1000;
  fs.rmSync(path.dirname(out), { recursive: true, force: true });
  return s;
}

function main(): void {
  const batch = arg("batch", "16");
  const reps = arg("reps", "3");
  const warmup = ["--warmup", arg("warmup", "1")];
  const models = arg("models", "alexnet,vgg11,nin,resnet18").split(",");
  console.log(`batch ${batch}, Adam, median of ${reps} steps after ${warmup[1]} untimed, 2 threads each, ${new Date().toISOString()}\n`);
  console.log("| model | input | parameters | build (s) | alexc step (ms) | alexc img/s | PyTorch step (ms) | PyTorch img/s |");
  console.log("|---|---|---:|---:|---:|---:|---:|---:|");
  for (const name of models) {
    const file = path.join(ROOT, "models", `${name}.ts`);
    const def = (require(file) as { default: ModelDef }).default;
    const params = buildStepGraph(def, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 }).params.reduce((n, p) => n + numel(p.dims), 0);
    const build = buildSeconds(file);
    const ours = median(json(process.execPath, ["--require", "tsx/cjs", path.join(__dirname, "bench/alexc-worker.ts"), file, "step", batch, reps, ...warmup]).ms);
    const theirs = median(json("/usr/bin/python3", [path.join(__dirname, "bench/d2l_torch_worker.py"), name, batch, reps, ...warmup]).ms);
    const ips = (ms: number) => ((Number(batch) * 1000) / ms).toFixed(1);
    const [, c, h, w] = def.spec.input;
    console.log(`| ${name} | ${c}×${h}×${w} | ${params.toLocaleString("en")} | ${build.toFixed(1)} | ${ours.toFixed(0)} | ${ips(ours)} | ${theirs.toFixed(0)} | ${ips(theirs)} |`);
  }
}

main();
