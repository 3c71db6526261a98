/**
 * When and what the trainer checkpoints: after every epoch, and at a Ctrl-C (SIGINT), which lets
 * the current step finish and saves the epoch's progress so far, so that `--resume` continues at
 * the next batch. The file format is checkpoint.ts's.
 */
import * as path from "path";
import { AlexcError } from "../graph/errors";
import { saveCheckpoint, type Checkpoint } from "./checkpoint";
import type { TrainingProgram } from "./program";
import type { Augmentation } from "./data/augment";
import type { Schedule } from "./schedule";
import type { TargetFlags } from "./targets/target";

export const CHECKPOINT = "checkpoint.ckpt";

/** A run stopped by SIGINT after saving its checkpoint (exit 130, as a shell reports it). */
export class InterruptedError extends AlexcError {
  override readonly exitCode = 130;
}

/** The run's settings a checkpoint records (informational: `--resume` reads the state alone). */
export interface RunConfig {
  readonly epochs: number;
  readonly batchSize: number;
  readonly lr: number;
  readonly optimizer: string;
  readonly momentum?: number;
  readonly weightDecay?: number;
  readonly seed: number;
  readonly initFrom?: string;
  readonly evalBatchSize: number;
  readonly stepsPerRun?: number;
  /** The learning-rate schedule (schedule.ts); absent: constant `lr`. */
  readonly schedule?: Schedule;
  /** Training-image augmentation (data/augment.ts); absent: none. */
  readonly augment?: Augmentation;
}

export function checkpointPath(out: string): string {
  return path.join(out, CHECKPOINT);
}

/** Saves parameters, optimizer state and progress: `epoch` epochs done, and `batch` batches of the next. */
export function saveProgress(file: string, program: TrainingProgram, run: RunConfig, flags: TargetFlags, tensors: ReadonlyMap<string, Float32Array>, at: { epoch: number; step: number; batch?: number }): void {
  const dims = new Map(program.mutable.map((t) => [t.name, t.dims]));
  const ckpt: Checkpoint = {
    meta: { model: program.name, epoch: at.epoch, step: at.step, seed: run.seed, config: recordedConfig(run, flags), ...(at.batch ? { batch: at.batch } : {}) },
    tensors: new Map([...tensors].map(([name, data]) => [name, { dims: [...dims.get(name)!], data }])),
  };
  saveCheckpoint(file, ckpt);
}

/** The config in the key order checkpoints have always had (a schedule and an augmentation, where there are any, last). */
function recordedConfig(run: RunConfig, flags: TargetFlags): Record<string, unknown> {
  const { ep, threads, lowering, nchwc, winograd, native } = flags;
  const { epochs, batchSize, lr, optimizer, momentum, weightDecay, seed, initFrom, evalBatchSize, stepsPerRun, schedule, augment } = run;
  return { epochs, batchSize, lr, optimizer, momentum, weightDecay, seed, ep, threads, initFrom, evalBatchSize, lowering, nchwc, winograd, native, stepsPerRun, schedule, augment };
}

/** Notes a SIGINT instead of dying of it, until `stop()`. */
export class InterruptWatch {
  requested = false;
  private readonly onSigint = () => {
    this.requested = true;
  };

  constructor() {
    process.on("SIGINT", this.onSigint);
  }

  stop(): void {
    process.removeListener("SIGINT", this.onSigint);
  }
}
