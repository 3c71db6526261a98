/**
 * The training step of one rank of a data-parallel run: the gradient half of the split step
 * (split-step.ts) on this rank's shard of the global batch, one MPI_Allreduce (sum) of the flat
 * gradient, the update half with the summed gradient. Every rank applies the same update to the
 * same parameters, so they stay identical without ever being sent.
 *
 * Each rank scales its gradient by its share of the global batch (n_rank / N) before the sum: the
 * loss is a mean over the rank's shard, so the sum is the gradient of the mean over the global
 * batch for any split, the epoch's last partial batch included, and the learning rate means what
 * it means on one process. The dropout masks are the global batch's, drawn as one process draws
 * them and cut into the same rows as the images, so K ranks train on what one process would.
 */
import * as ort from "onnxruntime-node";
import { runPasses } from "../../passes/run";
import type { MaskInput } from "../../passes/webgpu";
import { dropoutMask } from "../dropout";
import type { TrainingProgram } from "../program";
import { createStepSession, type StepSession } from "../session";
import { GRAD_SCALE, GRADIENTS } from "../split-step";
import { next, STEP_COUNTER } from "../step";
import type { StepBatch, StepResult } from "../step-runner";
import type { TargetSpec } from "../targets/target";
import type { Communicator } from "./communicator";
import { shardOf, sliceRows } from "./shard";

/** Milliseconds spent in each part of the steps run so far. */
export interface DistTiming {
  gradient: number;
  /** Waiting in the first reduction for the slowest rank's gradient. */
  wait: number;
  allreduce: number;
  update: number;
  steps: number;
}

export class DistStepRunner {
  readonly step = { stepsPerRun: 1 };
  readonly timing: DistTiming = { gradient: 0, wait: 0, allreduce: 0, update: 0, steps: 0 };

  private constructor(
    private readonly comm: Communicator,
    private readonly gradient: StepSession,
    private readonly update: StepSession,
    private readonly masks: readonly MaskInput[],
    /** Elements of the flat gradient. */
    readonly size: number,
    private readonly rawShape: readonly [number, number, number],
    private readonly dims: ReadonlyMap<string, readonly number[]>,
    /** The parameters: the gradient half's only tensor inputs. */
    private readonly params: readonly string[],
  ) {}

  /** The two sessions of `program`'s split step on `spec`, for global batches of `batch`. */
  static async open(spec: TargetSpec, program: TrainingProgram, opts: { batch: number; comm: Communicator }): Promise<DistStepRunner> {
    const local = shardOf(opts.batch, 0, opts.comm.size).to;
    const split = program.splitStep!(spec.gradients(local));
    const gradient = await createStepSession(runPasses(split.gradient, spec.stepPasses(local, 1)), spec.stepSession([], 1));
    const update = await createStepSession(split.update, spec.stepSession(program.mutable.map((t) => t.name), 1));
    const dims = new Map(program.mutable.map((t) => [t.name, t.dims]));
    return new DistStepRunner(opts.comm, gradient, update, split.masks, split.size, program.rawShape, dims, program.params.map((p) => p.name));
  }

  async beginEpoch(): Promise<string> {
    const mb = ((this.size * 4) / 1e6).toFixed(1);
    return `step: split at the gradients, all-reduced as one buffer of ${this.size} floats (${mb} MB) per step; gradient half on ${this.gradient.runner}; update on ${this.update.runner}`;
  }

  /** One optimizer step over the global batch `batch`, of which this rank computes its shard. */
  async run(tensors: Map<string, Float32Array>, batch: StepBatch): Promise<StepResult> {
    const { from, to } = shardOf(batch.size, this.comm.rank, this.comm.size);
    let t = performance.now();
    const local = to > from ? await this.localGradient(tensors, batch, from, to) : { gradients: new Float32Array(this.size), loss: 0, correct: 0 };
    const totals = Float64Array.of(local.loss * (to - from), local.correct);
    t = this.lap("gradient", t);
    // The small reduction first: it waits for the slowest rank, so the large one's time is its own.
    this.comm.allreduce(totals, "sum");
    t = this.lap("wait", t);
    this.comm.allreduce(local.gradients, "sum");
    t = this.lap("allreduce", t);
    await this.applyUpdate(tensors, batch, local.gradients);
    this.lap("update", t);
    this.timing.steps++;
    return { losses: [totals[0] / batch.size], corrects: [totals[1]] };
  }

  private lap(part: Exclude<keyof DistTiming, "steps">, since: number): number {
    const now = performance.now();
    this.timing[part] += now - since;
    return now;
  }

  /** This rank's gradient, already scaled by its share of the batch, with its loss and correct count. */
  private async localGradient(tensors: ReadonlyMap<string, Float32Array>, batch: StepBatch, from: number, to: number) {
    const [c, h, w] = this.rawShape;
    const pixels = c * h * w;
    const feeds: Record<string, ort.Tensor> = {
      images: new ort.Tensor("uint8", batch.images.subarray(from * pixels, to * pixels), [to - from, c, h, w]),
      labels: new ort.Tensor("int64", batch.labels.subarray(from, to), [to - from]),
      [GRAD_SCALE]: new ort.Tensor("float32", Float32Array.of((to - from) / batch.size), []),
    };
    for (const name of this.params) feeds[name] = new ort.Tensor("float32", tensors.get(name)!, [...this.dims.get(name)!]);
    // The whole batch's masks, drawn as one process draws them, then this rank's rows.
    for (const m of this.masks) feeds[m.name] = sliceRows(dropoutMask(batch.masks, m, batch.size), from, to);
    const out = await this.gradient.run(feeds);
    return { gradients: out[GRADIENTS].data as Float32Array, loss: (out.loss.data as Float32Array)[0], correct: Number((out.correct.data as BigInt64Array)[0]) };
  }

  private async applyUpdate(tensors: Map<string, Float32Array>, batch: StepBatch, gradients: Float32Array): Promise<void> {
    const feeds: Record<string, ort.Tensor> = {
      lr: new ort.Tensor("float32", Float32Array.of(batch.lr), []),
      [STEP_COUNTER]: new ort.Tensor("int64", BigInt64Array.of(BigInt(batch.step)), []),
      [GRADIENTS]: new ort.Tensor("float32", gradients, [gradients.length]),
    };
    for (const [name, value] of tensors) feeds[name] = new ort.Tensor("float32", value, [...this.dims.get(name)!]);
    const out = await this.update.run(feeds);
    for (const name of tensors.keys()) tensors.set(name, out[next(name)].data as Float32Array);
  }

  async endEpoch(): Promise<void> {}

  async release(): Promise<void> {
    await this.gradient.release();
    await this.update.release();
  }
}

/** The log line of a run's step times: where each step's time went, the all-reduce's share among them. */
export function describeTiming(t: DistTiming): string {
  const total = t.gradient + t.wait + t.allreduce + t.update;
  const per = (ms: number) => (t.steps ? ms / t.steps : 0).toFixed(1);
  const share = total ? ((100 * t.allreduce) / total).toFixed(1) : "0";
  return `step time (mean of ${t.steps}): gradient ${per(t.gradient)} ms, waiting for the other ranks ${per(t.wait)} ms, all-reduce ${per(t.allreduce)} ms (${share} %), update ${per(t.update)} ms`;
}
