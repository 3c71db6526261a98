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
}

export function initialRunState(program: TrainingProgram, opts: StartOptions, checkpointPath: string, log: Logger): RunState {
  if (opts.initFrom && opts.resume) throw new UsageError("--init-from starts a new run from given weights and --resume continues a run: use one");
  if (opts.resume) return resumed(program, checkpointPath, log, opts.schedule);
  const { tensors, step } = program.initial();
  if (opts.initFrom) {
    const weights = matchWeights(readSafetensorsFile(opts.initFrom).tensors, program.params, program.torchNames, opts.initFrom);
    for (const [name, data] of weights) tensors.set(name, data);
    log.line(`initial weights from ${opts.initFrom} (${weights.size} tensors)`);
  }
  return { tensors, step, startEpoch: 0, skip: 0 };
}

function resumed(program: TrainingProgram, checkpointPath: string, log: Logger, schedule: Schedule | undefined): RunState {
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
  // The schedule comes from this run's flags; a different one than the checkpoint's is allowed, but said.
  const saved = ck.meta.config.schedule as Schedule | undefined;
  if (JSON.stringify(saved ?? null) !== JSON.stringify(schedule ?? null)) {
    const name = (s: Schedule | undefined) => (s ? describeSchedule(s) : "constant");
    log.line(`note: the checkpoint's run had lr schedule ${name(saved)}, this run uses ${name(schedule)}`);
  }
  return { tensors, step: ck.meta.step, startEpoch: ck.meta.epoch, skip };
}
