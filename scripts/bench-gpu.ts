/**
 * alexc on a GPU execution provider, checked against the CPU provider and timed next to
 * PyTorch on the same GPU, in one run:
 *
 *   npx tsx scripts/bench-gpu.ts [--ep webgpu|cuda] [--batches 32,128] [--reps 10] [--python python3] [--torch-device cuda] [--loop]
 *
 * 1. Agreement: one AlexNet Adam step with dropout live (the same masks fed to both) on the GPU
 *    provider and on the CPU provider, from the same weights and batch: the loss, the correct
 *    count, and every parameter's update (p.next − p) relative to that tensor's largest |update|;
 *    then the logits of the evaluation graph.
 * 2. Speed, per batch size: the training step as the trainer runs it (WebGPU: parameters and
 *    state stay on the GPU, "gpu-buffer" outputs fed back as the next inputs; CUDA: the step
 *    with host copies, and K = 8 steps inside one ONNX Loop; `--loop` times the Loop on any
 *    provider), the inference forward, and
 *    PyTorch's step and forward on the same GPU (scripts/bench/torch_worker.py --device cuda).
 *
 * Prints a line per figure and the ratios; needs a GPU machine (docs/execution-providers.md).
 */
import { spawnSync } from "child_process";
import * as ort from "onnxruntime-node";
import * as path from "path";
import type { ModelDef } from "../src/graph/dsl";
import { compileModel } from "../src/emit/compile";
import { encodeModel } from "../src/emit/encode";
import { sessionBytes } from "../src/emit/session-bytes";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import type { TrainingProgram } from "../src/train/program";
import { createSession, type ExecutionProvider } from "../src/train/session";
import { next, STEP_COUNTER } from "../src/train/step";
import { targetFromFlags } from "../src/train/targets/from-flags";
import type { Target } from "../src/train/targets/target";
import { worstRelative } from "./bench/agreement";
import { batchFeeds, maskFeeds, stateFeeds } from "./bench/step-feeds";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
const LOOP_K = 8;

/** The GPU target's step model run on its provider and on the CPU's. */
async function agreement(program: TrainingProgram, target: Target): Promise<void> {
  const { ep, lowering } = target;
  const batch = 8;
  const step = target.step(program, { batch });
  const bytes = sessionBytes(step.model(0));
  const masks = step.masks;
  const feeds = { ...batchFeeds(program, batch, 0), ...maskFeeds(masks, batch, 1), ...stateFeeds(program) };
  const cpu = await (await createSession(bytes, { ep: "cpu" })).run(feeds);
  const gpu = await (await createSession(bytes, { ep })).run(feeds);
  const loss = [cpu.loss.data[0] as number, gpu.loss.data[0] as number];
  console.log(`agreement, one Adam step at batch ${batch} (${lowering} lowering, dropout masks fed):`);
  console.log(`  loss cpu ${loss[0].toFixed(6)}  ${ep} ${loss[1].toFixed(6)}  |Δ| ${Math.abs(loss[0] - loss[1]).toExponential(2)}`);
  console.log(`  correct cpu ${cpu.correct.data[0]}  ${ep} ${gpu.correct.data[0]}`);
  // After one step Adam's first moment is 0.1·g: it exposes each gradient. The update
  // lr·m̂/(√v̂ + ε) is ill-conditioned where |g| is near ε, so it is compared where |g| ≥ 1e-6.
  let grad = { name: "", rel: 0 };
  let update = { name: "", rel: 0 };
  for (const p of program.params) {
    const p0 = feeds[p.name].data as Float32Array;
    const [ma, mb] = [cpu, gpu].map((o) => o[next(`${p.name}.adam_m`)].data as Float32Array);
    const [a, b] = [cpu, gpu].map((o) => o[next(p.name)].data as Float32Array);
    let maxM = 0;
    let maxDm = 0;
    let maxUpdate = 0;
    let maxDu = 0;
    for (let i = 0; i < p0.length; i++) {
      maxM = Math.max(maxM, Math.abs(ma[i]));
      maxDm = Math.max(maxDm, Math.abs(ma[i] - mb[i]));
      maxUpdate = Math.max(maxUpdate, Math.abs(a[i] - p0[i]));
      if (Math.abs(ma[i]) >= 1e-7) maxDu = Math.max(maxDu, Math.abs(a[i] - b[i]));
    }
    if (maxDm / maxM > grad.rel) grad = { name: p.name, rel: maxDm / maxM };
    if (maxDu / maxUpdate > update.rel) update = { name: p.name, rel: maxDu / maxUpdate };
  }
  console.log(`  gradients (Adam's first moment): largest max|Δ| / max|g| over ${program.params.length} tensors = ${grad.rel.toExponential(2)} (${grad.name})`);
  console.log(`  updated parameters where |g| ≥ 1e-6: largest max|Δ| / max|update| = ${update.rel.toExponential(2)} (${update.name})`);

  const evalFeeds: Record<string, ort.Tensor> = { images: feeds.images, labels: feeds.labels };
  for (const p of program.params) evalFeeds[p.name] = feeds[p.name];
  const evalBytes = sessionBytes(program.evalGraph());
  const la = (await (await createSession(evalBytes, { ep: "cpu" })).run(evalFeeds)).logits.data as Float32Array;
  const lb = (await (await createSession(evalBytes, { ep })).run(evalFeeds)).logits.data as Float32Array;
  console.log(`  eval logits: max |Δ| / max |logit| = ${worstRelative(la, lb).toExponential(2)}`);
}

/** The step as the trainer runs it (the target's step session); returns ms per step. */
async function stepTimes(program: TrainingProgram, target: Target, batch: number, reps: number): Promise<number[]> {
  const step = target.step(program, { batch });
  const names = program.mutable.map((t) => t.name);
  const session = await step.open(0);
  const feeds = { ...batchFeeds(program, batch, 0), ...maskFeeds(step.masks, batch, 1), ...stateFeeds(program) };
  const times: number[] = [];
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    const out = await session.run(feeds);
    void out.loss.data[0]; // the loss comes back to the host: the step has finished
    for (const name of names) {
      if (feeds[name].location === "gpu-buffer") feeds[name].dispose();
      feeds[name] = out[next(name)];
    }
    if (r > 0) times.push(performance.now() - t0);
  }
  await session.release();
  return times;
}

/** CUDA: K steps per run inside an ONNX Loop (parameters and state stay on the device); ms per step. */
async function loopTimes(program: TrainingProgram, target: Target, batch: number, reps: number): Promise<number[]> {
  const session = await target.step(program, { batch, stepsPerRun: LOOP_K }).open(0);
  const [c, h, w] = program.rawShape;
  const feeds: Record<string, ort.Tensor> = {
    ...stateFeeds(program),
    images_all: new ort.Tensor("uint8", new Uint8Array(LOOP_K * batch * c * h * w).map((_, i) => (i * 37) % 256), [LOOP_K, batch, c, h, w]),
    labels_all: new ort.Tensor("int64", BigInt64Array.from({ length: LOOP_K * batch }, (_, i) => BigInt(i % 10)), [LOOP_K, batch]),
    lr: new ort.Tensor("float32", new Float32Array([1e-3]), []),
    [STEP_COUNTER]: new ort.Tensor("int64", new BigInt64Array([0n]), []),
  };
  const times: number[] = [];
  for (let r = 0; r <= Math.max(1, Math.ceil(reps / LOOP_K)); r++) {
    const t0 = performance.now();
    const out = await session.run(feeds);
    for (const t of program.mutable) {
      if (feeds[t.name].location === "gpu-buffer") feeds[t.name].dispose();
      feeds[t.name] = out[next(t.name)];
    }
    if (r > 0) times.push((performance.now() - t0) / LOOP_K);
  }
  await session.release();
  return times;
}

async function forwardTimes(def: ModelDef, ep: ExecutionProvider, batch: number, reps: number): Promise<number[]> {
  const session = await createSession(encodeModel(compileModel(def, { seed: 0 })), { ep });
  const [, c, h, w] = def.spec.input as number[];
  const x = new Float32Array(batch * c * h * w).map((_, i) => ((i * 7919) % 1000) / 1000);
  const feeds = { input: new ort.Tensor("float32", x, [batch, c, h, w]) };
  const times: number[] = [];
  for (let r = 0; r <= reps; r++) {
    const t0 = performance.now();
    await session.run(feeds);
    if (r > 0) times.push(performance.now() - t0);
  }
  await session.release();
  return times;
}

function torch(python: string, device: string, mode: string, batch: number, reps: number): number {
  const worker = path.join(__dirname, "bench/torch_worker.py");
  const r = spawnSync(python, [worker, mode, String(batch), String(reps), "--device", device], { encoding: "utf8" });
  if (r.status !== 0) throw new Error(`PyTorch ${mode} failed:\n${r.stderr}`);
  return median((JSON.parse(r.stdout.trim().split("\n").pop()!) as { ms: number[] }).ms);
}

async function main(): Promise<void> {
  const ep = arg("ep", "webgpu") as ExecutionProvider;
  const batches = arg("batches", "32,128").split(",").map(Number);
  const reps = Number(arg("reps", "10"));
  const python = arg("python", "python3");
  const torchDevice = arg("torch-device", "cuda");
  const def = (require(path.resolve(__dirname, "../models/alexnet.ts")) as { default: ModelDef }).default;
  const program = programFromModel(def, adam(), 0);
  console.log(`AlexNet (1×224×224), Adam, --ep ${ep}; median of ${reps} reps after a warm-up`);
  const target = await targetFromFlags({ ep });
  await agreement(program, target);
  for (const b of batches) {
    const ips = (ms: number) => ((b * 1000) / ms).toFixed(0);
    const step = median(await stepTimes(program, target, b, reps));
    const fwd = median(await forwardTimes(def, ep, b, reps));
    const ts = torch(python, torchDevice, "step", b, reps);
    const tf = torch(python, torchDevice, "forward", b, reps);
    console.log(`\nbatch ${b}`);
    console.log(`  alexc ${ep}  step ${step.toFixed(1)} ms (${ips(step)} img/s)   forward ${fwd.toFixed(1)} ms (${ips(fwd)} img/s)`);
    if (ep === "cuda" || process.argv.includes("--loop")) {
      // The Loop needs the default formulation (the WebGPU one has no Loop).
      const loop = median(await loopTimes(program, await targetFromFlags({ ep, lowering: "default" }), b, reps));
      console.log(`  alexc ${ep}, ${LOOP_K} steps per run in a Loop: ${loop.toFixed(1)} ms per step (${ips(loop)} img/s)`);
    }
    console.log(`  PyTorch ${torchDevice}  step ${ts.toFixed(1)} ms (${ips(ts)} img/s)   forward ${tf.toFixed(1)} ms (${ips(tf)} img/s)`);
    console.log(`  ratios: alexc step / alexc forward = ${(step / fwd).toFixed(2)}; alexc training throughput / PyTorch's = ${(ts / step).toFixed(3)}×; inference ${(tf / fwd).toFixed(3)}×`);
  }
}

main().catch((e) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
