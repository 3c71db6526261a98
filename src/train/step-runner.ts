/**
 * The training step as the trainer drives it, whatever the target: one step per run, K steps in an
 * ONNX Loop, or with the parameters and optimizer state resident on the device.
 *
 * The state lives in JS typed arrays fed to each run. On the CPU alexc's own binding writes each
 * ".next" output into the array it replaces (native-session.ts); elsewhere the outputs replace
 * them. A device-resident target (WebGPU) keeps one session for the whole run, since the tensors
 * it leaves on the GPU must not outlive it, and feeds them back without a copy; they come back to
 * the host at each epoch's end. Other targets open a session per epoch, released before the
 * evaluation so that its memory is free for the evaluation's.
 */
import * as ort from "onnxruntime-node";
import type { Rng } from "../graph/random";
import { collectReplaced } from "./collect-garbage";
import { deviceDownload, type DeviceDownload } from "./device-download";
import { dropoutMask } from "./dropout";
import type { TrainingProgram } from "./program";
import type { StepSession } from "./session";
import { next, STEP_COUNTER } from "./step";
import { TargetStep } from "./targets/target-step";
import type { StepOptions, TargetSpec } from "./targets/target";

/** One session run's input: `steps` batches of `size` images each, one after another. */
export interface StepBatch {
  readonly images: Uint8Array;
  readonly labels: BigInt64Array;
  readonly steps: number;
  readonly size: number;
  readonly lr: number;
  /** Optimizer steps done before this run. */
  readonly step: number;
  /** The generator of this run's dropout masks (dropout.ts). */
  readonly masks: Rng;
}

/** Each step's loss and correct count. */
export interface StepResult {
  readonly losses: number[];
  readonly corrects: number[];
}

/** What an epoch drives: this one-process runner, or a data-parallel rank's (dist/dist-runner.ts). */
export type Runner = Pick<StepRunner, "beginEpoch" | "run" | "endEpoch" | "release"> & { readonly step: { readonly stepsPerRun: number } };

export class StepRunner {
  private readonly device = new Map<string, ort.Tensor>();
  private download: DeviceDownload | undefined;
  private current: StepSession | undefined;

  private constructor(
    private readonly spec: TargetSpec,
    readonly step: TargetStep,
    private readonly rawShape: readonly [number, number, number],
    private readonly dims: ReadonlyMap<string, readonly number[]>,
    /** The session of the whole run (device-resident targets). */
    private readonly whole: StepSession | undefined,
  ) {}

  static async open(spec: TargetSpec, program: TrainingProgram, opts: StepOptions): Promise<StepRunner> {
    const step = TargetStep.build(spec, program, opts);
    const whole = spec.deviceResident && step.stepsPerRun === 1 ? await step.open(0) : undefined;
    return new StepRunner(spec, step, program.rawShape, new Map(program.mutable.map((t) => [t.name, t.dims])), whole);
  }

  /** Opens `epoch`'s session (unless one serves the run) and says how the step runs, for the log. */
  async beginEpoch(epoch: number): Promise<string> {
    this.current = this.whole ?? (await this.step.open(epoch));
    return this.step.describe(this.current);
  }

  /** Runs `batch` and takes the updated parameters and state into `tensors` (or onto the device). */
  async run(tensors: Map<string, Float32Array>, batch: StepBatch): Promise<StepResult> {
    const out = await this.current!.run(this.feeds(tensors, batch));
    const multi = this.step.stepsPerRun > 1;
    const losses = Array.from(out[multi ? "losses" : "loss"].data as Float32Array);
    const corrects = Array.from(out[multi ? "corrects" : "correct"].data as BigInt64Array, Number);
    this.take(tensors, out);
    return { losses, corrects };
  }

  private feeds(tensors: ReadonlyMap<string, Float32Array>, batch: StepBatch): Record<string, ort.Tensor> {
    const [c, h, w] = this.rawShape;
    const b = batch.size;
    const feeds: Record<string, ort.Tensor> =
      this.step.stepsPerRun > 1
        ? {
            images_all: new ort.Tensor("uint8", batch.images, [batch.steps, b, c, h, w]),
            labels_all: new ort.Tensor("int64", batch.labels, [batch.steps, b]),
          }
        : { images: new ort.Tensor("uint8", batch.images, [b, c, h, w]), labels: new ort.Tensor("int64", batch.labels, [b]) };
    feeds.lr = new ort.Tensor("float32", new Float32Array([batch.lr]), []);
    feeds[STEP_COUNTER] = new ort.Tensor("int64", BigInt64Array.of(BigInt(batch.step)), []);
    for (const [name, value] of tensors) feeds[name] = this.device.get(name) ?? new ort.Tensor("float32", value, [...this.dims.get(name)!]);
    for (const m of this.step.masks) feeds[m.name] = dropoutMask(batch.masks, m, b);
    return feeds;
  }

  private take(tensors: Map<string, Float32Array>, out: Record<string, ort.Tensor>): void {
    let replaced = 0;
    for (const name of tensors.keys()) {
      const t = out[next(name)];
      if (t.location === "gpu-buffer") {
        this.device.get(name)?.dispose();
        this.device.set(name, t);
      } else {
        const before = tensors.get(name)!;
        if (t.data !== before) replaced += before.byteLength;
        tensors.set(name, t.data as Float32Array);
      }
    }
    // The arrays the step replaced (none where it updated them in place) are garbage now: large
    // ones are collected before the next step copies out its own.
    collectReplaced(replaced);
  }

  /** Brings device-resident tensors into `tensors` and releases the epoch's own session. */
  async endEpoch(tensors: Map<string, Float32Array>): Promise<void> {
    if (this.device.size) {
      this.download ??= await deviceDownload(new Map([...this.device.keys()].map((name) => [name, this.dims.get(name)!])), this.spec.ep);
      for (const [name, data] of await this.download.run(this.device)) tensors.set(name, data);
    }
    if (this.current !== this.whole) await this.current?.release();
    this.current = undefined;
  }

  async release(): Promise<void> {
    for (const t of this.device.values()) t.dispose();
    await this.whole?.release();
    await this.download?.release();
  }
}
