/**
 * Where a training run starts: the program's initial parameters and zero optimizer state (a fresh
 * run), the same with the parameters from a safetensors file (`--init-from`), or everything from
 * the checkpoint in the output folder (`--resume`), including the epoch and, after a Ctrl-C, the
 * batches of that epoch already done.
 */
import * as fs from "fs";
import { UsageError } from "../graph/errors";
import { numel } from "../graph/types";
import { readSafetensorsFile } from "../emit/safetensors";
import { matchWeights } from "../emit/state-dict";
import { CheckpointError, loadCheckpoint } from "./checkpoint";
import type { TrainingProgram } from "./program";
import type { Logger } from "./progress";
import { describeAugment, type Augmentation } from "./data/augment";
import { describeSchedule, type Schedule } from "./schedule";

export interface RunState {
  /** Parameters and optimizer state by name, replaced (or updated in place) by every step. */
  tensors: Map<string, Float32Array>;
  /** Optimizer steps done. */
  step: number;
  /** The first epoch this run trains (0-based). */
  readonly startEpoch: number;
  /** Batches of the first epoch already done (a run interrupted mid-epoch). */
  readonly skip: number;
}

export interface StartOptions {
  readonly initFrom?: string;
  readonly resume: boolean;
  /** The run's lr schedule (absent: constant), compared with the checkpoint's on --resume. */
  readonly schedule?: Schedule;
  /** The run's augmentation (absent: none), compared with the checkpoint's on --resume. */
  readonly augment?: Augmentation;
}

export function initialRunState(program: TrainingProgram, opts: StartOptions, checkpointPath: string, log: Logger): RunState {
  if (opts.initFrom && opts.resume) throw new UsageError("--init-from starts a new run from given weights and --resume continues a run: use one");
  if (opts.resume) return resumed(program, checkpointPath, log, opts);
  const { tensors, step } = program.initial();
  if (opts.initFrom) {
    const weights = matchWeights(readSafetensorsFile(opts.initFrom).tensors, program.params, program.torchNames, opts.initFrom);
    for (const [name, data] of weights) tensors.set(name, data);
    log.line(`initial weights from ${opts.initFrom} (${weights.size} tensors)`);
  }
  return { tensors, step, startEpoch: 0, skip: 0 };
}

function resumed(program: TrainingProgram, checkpointPath: string, log: Logger, opts: StartOptions): RunState {
  if (!fs.existsSync(checkpointPath)) throw new CheckpointError(`--resume: no checkpoint at ${checkpointPath}`);
  const ck = loadCheckpoint(checkpointPath);
  if (ck.meta.model !== program.name) throw new CheckpointError(`${checkpointPath}: checkpoint is for model '${ck.meta.model}', not '${program.name}'`);
  const tensors = new Map<string, Float32Array>();
  for (const t of program.mutable) {
    const saved = ck.tensors.get(t.name);
    if (!saved || saved.data.length !== numel(t.dims)) throw new CheckpointError(`${checkpointPath}: corrupt checkpoint: tensor '${t.name}' missing or of the wrong size`);
    tensors.set(t.name, saved.data);
  }
  const skip = ck.meta.batch ?? 0;
  log.line(`resumed from ${checkpointPath}: epoch ${ck.meta.epoch}${skip ? `, batch ${skip}` : ""}, step ${ck.meta.step}`);
  noteChangedSettings(ck.meta.config, opts, log);
  return { tensors, step: ck.meta.step, startEpoch: ck.meta.epoch, skip };
}

/** The schedule and augmentation come from this run's flags; ones other than the checkpoint's are allowed, but said. */
function noteChangedSettings(config: Record<string, unknown>, opts: StartOptions, log: Logger): void {
  const same = (a: unknown, b: unknown) => JSON.stringify(a ?? null) === JSON.stringify(b ?? null);
  const saved = config.schedule as Schedule | undefined;
  if (!same(saved, opts.schedule)) {
    const name = (s: Schedule | undefined) => (s ? describeSchedule(s) : "constant");
    log.line(`note: the checkpoint's run had lr schedule ${name(saved)}, this run uses ${name(opts.schedule)}`);
  }
  const augment = config.augment as Augmentation | undefined;
  if (!same(augment, opts.augment)) {
    const name = (a: Augmentation | undefined) => (a ? describeAugment(a) : "none");
    log.line(`note: the checkpoint's run had augmentation ${name(augment)}, this run uses ${name(opts.augment)}`);
  }
}
