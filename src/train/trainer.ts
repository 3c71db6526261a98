/**
 * The training loop (`alexc train`): one onnxruntime session per epoch runs the step graph,
 * with dropout masks fed as inputs drawn from the run seed, the epoch and the batch index, so a
 * run resumed mid-epoch sees exactly the masks a straight run saw — from a model file or a built
 * .onnx. (K steps per run keep onnxruntime's Dropout, seeded per epoch: exact at epoch boundaries.)
 * An inference session evaluates the whole test set, and after every epoch a
 * checkpoint is written atomically. Parameters and optimizer state stay in JS typed arrays
 * that are fed to each run; on the CPU alexc's own binding writes each ".next" output into the
 * array it replaces (native-session.ts), elsewhere the outputs replace them.
 */
import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { AlexcError, IoError, UsageError } from "../graph/errors";
import { Rng } from "../graph/random";
import { numel } from "../graph/types";
import { writeFileAtomic } from "../emit/atomic-write";
import { readSafetensorsFile } from "../emit/safetensors";
import { matchWeights } from "../emit/state-dict";
import { BatchSampler, gatherBatch } from "./data/batches";
import type { Split } from "./data/fashion-mnist";
import { Checkpoint, CheckpointError, loadCheckpoint, saveCheckpoint } from "./checkpoint";
import type { TrainingProgram } from "./program";
import { collectReplaced } from "./collect-garbage";
import { createSession, createStepSession, ExecutionProvider, type StepSession } from "./session";
import { next, STEP_COUNTER } from "./step";
import type { Graph } from "../graph/ir";
import { sessionBytes } from "../emit/session-bytes";
import { cpuPasses } from "../passes/cpu";
import { multiStep } from "../passes/multi-step";
import { nchwcConvCount } from "../passes/nchwc";
import { runPasses } from "../passes/run";
import { cpuStepGradients, winogradConvCount } from "../passes/winograd";
import { nchwcBlockSize } from "./nchwc-probe";
import { deviceDownload, type DeviceDownload } from "./device-download";
import type { MaskInput } from "./lower-webgpu";

export class DivergedError extends AlexcError {
  override readonly exitCode = 6;
}

export interface TrainConfig {
  epochs: number;
  batchSize: number;
  lr: number;
  optimizer: "adam" | "sgd";
  momentum?: number;
  weightDecay?: number;
  seed: number;
  ep: ExecutionProvider;
  threads?: number;
  out: string;
  resume: boolean;
  /** A safetensors file whose weights replace the initial parameters (PyTorch or alexc names). */
  initFrom?: string;
  evalBatchSize: number;
  /** Optimizer steps per session run (an ONNX Loop when > 1; see passes/multi-step.ts). */
  stepsPerRun?: number;
  /** "webgpu": the step graph lowered for the WebGPU provider (lower-webgpu.ts); default with --ep webgpu. */
  lowering?: "default" | "webgpu";
  /** CPU: convolutions on onnxruntime's blocked NCHWc kernels (passes/nchwc.ts); default true. */
  nchwc?: boolean;
  /** CPU: 3×3 and 5×5 convolutions as Winograd's F(m×m, r×r) (passes/winograd.ts); default true. */
  winograd?: boolean;
  /** CPU: the step on alexc's own onnxruntime binding, updates in place (native-session.ts), where it is built; default true. */
  native?: boolean;
}

export interface EpochMetrics {
  epoch: number;
  train_loss: number;
  train_acc: number;
  test_acc: number;
  time_s: number;
  img_per_s: number;
}

export interface Logger {
  line(text: string): void;
  progress(text: string): void;
}

const CHECKPOINT = "checkpoint.ckpt";
const METRICS = "metrics.jsonl";

/** A progress bar redrawn in place on a terminal; elsewhere (logs, CI) a plain line every 30 s. */
export function plainLogger(stream: NodeJS.WriteStream = process.stdout, plainEveryMs = 30_000): Logger {
  const tty = !!stream.isTTY;
  let last = Date.now();
  return {
    line: (t) => stream.write(`${tty ? "\r\x1b[K" : ""}${t}\n`),
    progress: (t) => {
      if (tty) stream.write(`\r\x1b[K${t}`);
      else if (Date.now() - last >= plainEveryMs) {
        last = Date.now();
        stream.write(`${t}\n`);
      }
    },
  };
}

function prepareOutDir(out: string): void {
  try {
    fs.mkdirSync(out, { recursive: true });
    fs.accessSync(out, fs.constants.W_OK);
    const probe = path.join(out, `.write-test-${process.pid}`);
    fs.writeFileSync(probe, "");
    fs.rmSync(probe);
  } catch (e) {
    throw new IoError(`--out ${out}: not a writable directory (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
}

function tensor(data: Float32Array, dims: readonly number[]): ort.Tensor {
  return new ort.Tensor("float32", data, [...dims]);
}

export async function train(program: TrainingProgram, data: { train: Split; test: Split }, cfg: TrainConfig, log: Logger): Promise<EpochMetrics[]> {
  prepareOutDir(cfg.out);
  const [c, h, w] = program.rawShape;
  if (c !== 1 || h !== data.train.rows || w !== data.train.cols) {
    throw new IoError(`model '${program.name}' takes raw images of ${c}×${h}×${w}, the data has 1×${data.train.rows}×${data.train.cols}`);
  }
  const ckptPath = path.join(cfg.out, CHECKPOINT);
  const dims = new Map(program.mutable.map((t) => [t.name, t.dims]));
  const k = cfg.stepsPerRun ?? 1;

  // Mutable tensors: parameters and optimizer state; plus the step counter.
  let { tensors, step } = program.initial();
  if (cfg.initFrom) {
    if (cfg.resume) throw new UsageError("--init-from starts a new run from given weights and --resume continues a run: use one");
    const weights = matchWeights(readSafetensorsFile(cfg.initFrom).tensors, program.params, program.torchNames, cfg.initFrom);
    for (const [name, data] of weights) tensors.set(name, data);
    log.line(`initial weights from ${cfg.initFrom} (${weights.size} tensors)`);
  }
  let startEpoch = 0;
  /** Batches of the first epoch already done (a run interrupted mid-epoch). */
  let skip = 0;
  if (cfg.resume) {
    if (!fs.existsSync(ckptPath)) throw new CheckpointError(`--resume: no checkpoint at ${ckptPath}`);
    const ck = loadCheckpoint(ckptPath);
    if (ck.meta.model !== program.name) throw new CheckpointError(`${ckptPath}: checkpoint is for model '${ck.meta.model}', not '${program.name}'`);
    tensors = new Map();
    for (const t of program.mutable) {
      const saved = ck.tensors.get(t.name);
      if (!saved || saved.data.length !== numel(t.dims)) throw new CheckpointError(`${ckptPath}: corrupt checkpoint: tensor '${t.name}' missing or of the wrong size`);
      tensors.set(t.name, saved.data);
    }
    step = ck.meta.step;
    startEpoch = ck.meta.epoch;
    skip = ck.meta.batch ?? 0;
    log.line(`resumed from ${ckptPath}: epoch ${startEpoch}${skip ? `, batch ${skip}` : ""}, step ${step}`);
  }

  if (cfg.lowering === "webgpu" && !program.lowerings.includes("webgpu")) {
    throw new IoError(`the WebGPU lowering needs the model file (.ts), not a built .onnx`);
  }
  if (cfg.lowering === "webgpu" && k > 1) throw new IoError(`--steps-per-run > 1 uses an ONNX Loop, which the WebGPU provider lacks`);
  // With WebGPU, parameters and state stay on the GPU between steps ("gpu-buffer" outputs fed
  // back as inputs); `tensors` is brought up to date at the end of each epoch.
  const device = new Map<string, ort.Tensor>();
  let download: DeviceDownload | undefined;
  let runSession: StepSession | undefined;
  // On the CPU, step and evaluation take the weights as inputs; passes/cpu.ts computes their 3×3
  // and 5×5 convolutions by Winograd's algorithm and moves the others onto the blocked kernels
  // onnxruntime otherwise keeps for constant weights.
  const cpu = { blockSize: cfg.ep === "cpu" && (cfg.nchwc ?? true) ? await nchwcBlockSize() : 1, winograd: cfg.ep === "cpu" && (cfg.winograd ?? true) };
  const convs = { winograd: 0, nchwc: 0 };
  const forCpu = (graph: Graph, batch: number) => {
    const lowered = runPasses(graph, cpuPasses({ ...cpu, batch }));
    Object.assign(convs, { winograd: winogradConvCount(lowered), nchwc: nchwcConvCount(lowered) });
    return lowered;
  };
  const evalSession = await createSession(sessionBytes(forCpu(program.evalGraph(), cfg.evalBatchSize)), { ep: cfg.ep, threads: cfg.threads });
  const metricsFile = path.join(cfg.out, METRICS);
  const results: EpochMetrics[] = [];
  let interrupted = false;
  const onSigint = () => {
    interrupted = true;
  };
  process.on("SIGINT", onSigint);
  try {
    // Dropout masks come from alexc's generator (per epoch and batch) as step inputs, so the step
    // model is the same every epoch; K steps per run (an ONNX Loop) keep onnxruntime's Dropout,
    // seeded per epoch.
    const lowered =
      cfg.lowering === "webgpu"
        ? program.loweredStepGraph("webgpu")
        : k === 1
          ? program.loweredStepGraph("dropout", cpuStepGradients({ ...cpu, batch: cfg.batchSize }))
          : undefined;
    if (lowered?.maxBatch !== undefined && cfg.batchSize > lowered.maxBatch) {
      throw new UsageError(`--batch-size ${cfg.batchSize}: the WebGPU step indexes max-pooling in int32, which holds batches up to ${lowered.maxBatch} for '${program.name}'`);
    }
    // WebGPU: one step session for the whole run, since the tensors it leaves on the GPU must not
    // outlive it. Elsewhere one per epoch, released before evaluation so that its memory is free
    // for the evaluation's (K > 1 also seeds its dropout per epoch).
    // Without onnxruntime's memory pattern the step's intermediates come from its arena one by
    // one: AlexNet's peak RSS is 10–17% lower at the same speed, and the second step no longer
    // page-faults in a fresh block (docs/performance.md).
    // On the CPU with one step per run, alexc's own binding writes each update into the array it
    // replaces (session.ts, createStepSession): no output copies.
    const stepSession = (graph: Graph) =>
      createStepSession(k > 1 ? multiStep({ counter: STEP_COUNTER, next })(graph) : graph, {
        ep: cfg.ep,
        threads: cfg.threads,
        keepOnDevice: [...tensors.keys()].map(next),
        memoryPattern: false,
        mutable: [...tensors.keys()],
        native: k === 1 && cfg.native !== false,
      });
    // The same step every epoch unless K > 1 (its dropout seed changes): lowered for the CPU once.
    const stepGraph = lowered && forCpu(lowered.graph, cfg.batchSize);
    runSession = cfg.ep === "webgpu" && stepGraph ? await stepSession(stepGraph) : undefined;
    for (let epoch = startEpoch; epoch < cfg.epochs && !interrupted; epoch++) {
      const session = runSession ?? (await stepSession(stepGraph ?? forCpu(program.stepGraph(dropoutSeed(cfg.seed, epoch)), cfg.batchSize)));
      if (epoch === startEpoch) {
        const convLine = cfg.ep === "cpu" ? `; convolutions: ${convs.winograd} by Winograd's algorithm, ${convs.nchwc} on NCHWc kernels` : "";
        log.line(`step: ${session.runner}${convLine}`);
      }
      const sampler = new BatchSampler(data.train.count, cfg.batchSize, { shuffle: true, rng: Rng.derive(cfg.seed, "shuffle", epoch) });
      const t0 = Date.now();
      let seen = 0;
      let lossSum = 0;
      let correct = 0;
      let batchIndex = epoch === startEpoch ? skip : 0;
      const total = sampler.batchesPerEpoch;
      const lr = new ort.Tensor("float32", new Float32Array([cfg.lr]), []);
      for (const group of groupBatches(dropFirst(sampler.epoch(), batchIndex), k)) {
        if (interrupted) break;
        const b = group[0].length;
        const batch = gatherBatch(data.train, concat(group));
        const feeds: Record<string, ort.Tensor> =
          k > 1
            ? {
                images_all: new ort.Tensor("uint8", batch.images, [group.length, b, c, h, w]),
                labels_all: new ort.Tensor("int64", batch.labels, [group.length, b]),
              }
            : { images: new ort.Tensor("uint8", batch.images, [b, c, h, w]), labels: new ort.Tensor("int64", batch.labels, [b]) };
        feeds.lr = lr;
        feeds[STEP_COUNTER] = new ort.Tensor("int64", BigInt64Array.of(BigInt(step)), []);
        for (const [name, value] of tensors) feeds[name] = device.get(name) ?? tensor(value, dims.get(name)!);
        // Masks drawn per (epoch, batch), so a run resumed mid-epoch draws the same ones as a straight run.
        const maskRng = Rng.derive(cfg.seed, "dropout-masks", epoch, batchIndex);
        for (const m of lowered?.masks ?? []) feeds[m.name] = dropoutMask(maskRng, m, b);
        const out = await session.run(feeds);
        const losses = Array.from(out[k > 1 ? "losses" : "loss"].data as Float32Array);
        const corrects = Array.from(out[k > 1 ? "corrects" : "correct"].data as BigInt64Array, Number);
        for (const [i, loss] of losses.entries()) {
          if (!Number.isFinite(loss)) {
            throw new DivergedError(
              `training diverged: loss is ${loss} at epoch ${epoch + 1}, step ${step + i + 1} (lr ${cfg.lr}); ` +
                `the last good checkpoint${fs.existsSync(ckptPath) ? ` is ${ckptPath}` : " was never written (no epoch finished)"}; try a smaller --lr`,
            );
          }
          fs.appendFileSync(metricsFile, JSON.stringify({ type: "step", epoch: epoch + 1, step: step + i + 1, loss }) + "\n");
          lossSum += loss * b;
          correct += corrects[i];
        }
        let replaced = 0;
        for (const name of tensors.keys()) {
          const t = out[next(name)];
          if (t.location === "gpu-buffer") {
            device.get(name)?.dispose();
            device.set(name, t);
          } else {
            const before = tensors.get(name)!;
            if (t.data !== before) replaced += before.byteLength;
            tensors.set(name, t.data as Float32Array);
          }
        }
        // The arrays the step replaced (none where it updated them in place) are garbage now: large
        // ones are collected before the next step copies out its own.
        collectReplaced(replaced);
        step += group.length;
        batchIndex += group.length;
        seen += b * group.length;
        const elapsed = (Date.now() - t0) / 1000;
        const rate = seen / elapsed;
        const eta = (data.train.count - seen) / rate;
        log.progress(
          `epoch ${epoch + 1}/${cfg.epochs} ${bar(batchIndex / total)} ${batchIndex}/${total} loss ${(lossSum / seen).toFixed(4)} ${rate.toFixed(1)} img/s ETA ${formatTime(eta)}`,
        );
      }
      if (device.size) {
        download ??= await deviceDownload(new Map([...device.keys()].map((name) => [name, dims.get(name)!])), cfg.ep);
        for (const [name, data] of await download.run(device)) tensors.set(name, data);
      }
      if (session !== runSession) await session.release();
      if (interrupted) {
        // Ctrl-C: keep the work of this epoch so far; --resume continues at the next batch.
        saveCheckpoint(ckptPath, checkpointOf(program.name, cfg, tensors, dims, epoch, step, batchIndex));
        log.line(`interrupted at epoch ${epoch + 1}, batch ${batchIndex}/${total}: saved ${ckptPath}; continue with --resume`);
        break;
      }
      const time = (Date.now() - t0) / 1000;
      const testAcc = await evaluate(evalSession, data.test, tensors, dims, cfg.evalBatchSize);
      const m: EpochMetrics = {
        epoch: epoch + 1,
        train_loss: lossSum / seen,
        train_acc: correct / seen,
        test_acc: testAcc,
        time_s: time,
        img_per_s: seen / time,
      };
      results.push(m);
      fs.appendFileSync(metricsFile, JSON.stringify({ type: "epoch", ...m }) + "\n");
      log.line(
        `epoch ${m.epoch}, train_loss ${m.train_loss.toFixed(4)}, train_acc ${m.train_acc.toFixed(4)}, test_acc ${m.test_acc.toFixed(4)}, time ${m.time_s.toFixed(1)} s, ${m.img_per_s.toFixed(1)} img/s`,
      );
      // On a handful of steps chance accuracy is expected; after a real epoch it means divergence,
      // as does a mean loss far above a uniform guess's ln(10) ≈ 2.3.
      if ((testAcc <= 0.11 && batchIndex >= 100) || m.train_loss > 100) {
        log.line(
          `warning: test accuracy ${testAcc.toFixed(4)}, train loss ${m.train_loss.toPrecision(4)} after epoch ${m.epoch}: training has most likely diverged ` +
            `(the seed tutorial's lr 0.01 with batch 32 collapsed to 0.10 the same way); lower --lr (e.g. 1e-3)`,
        );
      }
      saveCheckpoint(ckptPath, checkpointOf(program.name, cfg, tensors, dims, epoch + 1, step));
    }
  } finally {
    process.removeListener("SIGINT", onSigint);
    for (const t of device.values()) t.dispose();
    await runSession?.release();
    await download?.release();
    await evalSession.release();
  }
  if (interrupted) throw new InterruptedError("training interrupted (SIGINT)");
  const trained = path.join(cfg.out, `${program.name}.onnx`);
  writeFileAtomic(trained, program.trainedModel(tensors, step));
  log.line(`wrote ${trained} and ${metricsFile}`);
  return results;
}

export class InterruptedError extends AlexcError {
  override readonly exitCode = 130;
}

export function dropoutSeed(seed: number, epoch: number): number {
  return Rng.derive(seed, "dropout", epoch).nextU32() % 2147483647;
}

function checkpointOf(
  model: string,
  cfg: TrainConfig,
  tensors: Map<string, Float32Array>,
  dims: Map<string, readonly number[]>,
  epoch: number,
  step: number,
  batch = 0,
): Checkpoint {
  const { out: _out, resume: _resume, ...config } = cfg;
  return {
    meta: { model, epoch, step, seed: cfg.seed, config, ...(batch ? { batch } : {}) },
    tensors: new Map([...tensors].map(([name, data]) => [name, { dims: [...dims.get(name)!], data }])),
  };
}

async function evaluate(
  session: ort.InferenceSession,
  split: Split,
  tensors: Map<string, Float32Array>,
  dims: Map<string, readonly number[]>,
  batchSize: number,
): Promise<number> {
  const sampler = new BatchSampler(split.count, batchSize, { shuffle: false });
  const params: Record<string, ort.Tensor> = {};
  for (const name of session.inputNames) if (tensors.has(name)) params[name] = tensor(tensors.get(name)!, dims.get(name)!);
  let correct = 0;
  for (const indices of sampler.epoch()) {
    const batch = gatherBatch(split, indices);
    const out = await session.run({
      ...params,
      images: new ort.Tensor("uint8", batch.images, [indices.length, 1, split.rows, split.cols]),
      labels: new ort.Tensor("int64", batch.labels, [indices.length]),
    });
    correct += Number(out.correct.data[0]);
  }
  return correct / split.count;
}

/** Bernoulli(1 − p) keep-masks from the run's seeded generator, for the lowered step's mask inputs. */
export function dropoutMask(rng: Rng, m: MaskInput, batch: number): ort.Tensor {
  const shape = m.shape.map((d, i) => (i === 0 ? batch : (d as number)));
  const keep = new Uint8Array(numel(shape));
  for (let i = 0; i < keep.length; i++) keep[i] = rng.nextFloat() >= m.p ? 1 : 0;
  return new ort.Tensor("bool", keep, shape);
}

function* dropFirst<T>(items: Iterable<T>, n: number): Generator<T> {
  let i = 0;
  for (const item of items) if (i++ >= n) yield item;
}

/** Consecutive batches of equal size, up to k at a time (the partial last batch runs alone). */
function* groupBatches(batches: Iterable<Int32Array>, k: number): Generator<Int32Array[]> {
  let group: Int32Array[] = [];
  for (const b of batches) {
    if (group.length > 0 && (group.length === k || group[0].length !== b.length)) {
      yield group;
      group = [];
    }
    group.push(b);
  }
  if (group.length > 0) yield group;
}

function concat(parts: Int32Array[]): Int32Array {
  if (parts.length === 1) return parts[0];
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}

function bar(frac: number): string {
  const n = Math.round(frac * 20);
  return `[${"#".repeat(n)}${".".repeat(20 - n)}]`;
}

function formatTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60)}s` : `${Math.round(s)}s`;
}
