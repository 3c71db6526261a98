/**
 * One epoch of a training run: its shuffled batches through the step runner (resumed mid-epoch,
 * from the first batch not yet done), each step's loss checked and logged, then the host copy of
 * the state, the evaluation, the epoch's metrics and its checkpoint. A Ctrl-C ends the epoch after
 * the current step and checkpoints its progress instead.
 */
import { Rng } from "../graph/random";
import { concat, dropFirst, groupBatches } from "./batch-groups";
import { saveProgress, type InterruptWatch, type RunConfig } from "./checkpointing";
import { augmentBatches } from "./data/augment";
import { BatchSampler, gatherBatch } from "./data/batches";
import type { Split } from "./data/fashion-mnist";
import { checkLoss, divergenceWarning } from "./divergence";
import { maskRng } from "./dropout";
import type { Evaluator } from "./evaluate";
import { tableHeader, tableRow } from "./epoch-table";
import type { EpochMetrics, MetricsFile } from "./metrics";
import type { TrainingProgram } from "./program";
import { progressLine, type Logger } from "./progress";
import type { RunState } from "./run-state";
import { lrAt } from "./schedule";
import type { Runner, StepResult } from "./step-runner";
import type { TargetFlags } from "./targets/target";

/** Everything an epoch reads or updates, for the whole run. */
export interface TrainingRun {
  readonly program: TrainingProgram;
  readonly data: { readonly train: Split; readonly test: Split };
  readonly config: RunConfig;
  readonly flags: TargetFlags;
  readonly state: RunState;
  readonly runner: Runner;
  readonly evaluator: Pick<Evaluator, "accuracy">;
  readonly metrics: Pick<MetricsFile, "step" | "epoch">;
  readonly checkpoint: string;
  /** This process writes the checkpoints (false on a data-parallel run's ranks other than 0). */
  readonly writes: boolean;
  readonly interrupt: InterruptWatch;
  readonly log: Logger;
}

/** What an epoch's steps added up to. */
interface Tally {
  readonly start: number;
  /** Batches done in this epoch (including those of a run it resumes), of `total`. */
  batchIndex: number;
  readonly total: number;
  seen: number;
  lossSum: number;
  correct: number;
}

/** Runs epoch `epoch` (0-based); its metrics, or undefined where a Ctrl-C stopped it. */
export async function runEpoch(run: TrainingRun, epoch: number): Promise<EpochMetrics | undefined> {
  const description = await run.runner.beginEpoch(epoch);
  if (epoch === run.state.startEpoch) run.log.line(description);
  const tally = await trainSteps(run, epoch);
  await run.runner.endEpoch(run.state.tensors);
  if (run.interrupt.requested) {
    // Ctrl-C: keep the work of this epoch so far; --resume continues at the next batch.
    if (run.writes) saveProgress(run.checkpoint, run.program, run.config, run.flags, run.state.tensors, { epoch, step: run.state.step, batch: tally.batchIndex });
    run.log.line(`interrupted at epoch ${epoch + 1}, batch ${tally.batchIndex}/${tally.total}: saved ${run.checkpoint}; continue with --resume`);
    return undefined;
  }
  return finishEpoch(run, epoch, tally);
}

async function trainSteps(run: TrainingRun, epoch: number): Promise<Tally> {
  const { config, state } = run;
  const sampler = new BatchSampler(run.data.train.count, config.batchSize, { shuffle: true, rng: Rng.derive(config.seed, "shuffle", epoch) });
  const tally: Tally = { start: Date.now(), batchIndex: epoch === state.startEpoch ? state.skip : 0, total: sampler.batchesPerEpoch, seen: 0, lossSum: 0, correct: 0 };
  for (const group of groupBatches(dropFirst(sampler.epoch(), tally.batchIndex), run.runner.step.stepsPerRun)) {
    if (run.interrupt.requested) break;
    const size = group[0].length;
    const batch = gatherBatch(run.data.train, concat(group));
    if (config.augment) {
      const { rows, cols } = run.data.train;
      augmentBatches(batch.images, group.map((g) => g.length), rows, cols, config.augment, { seed: config.seed, epoch, batchIndex: tally.batchIndex });
    }
    const masks = maskRng(config.seed, epoch, tally.batchIndex);
    // K steps per run share one lr input: the lr of the run's first step.
    const result = await run.runner.run(state.tensors, { ...batch, steps: group.length, size, lr: runLr(config, state.step), step: state.step, masks });
    record(run, epoch, result, size, tally);
    state.step += group.length;
    tally.batchIndex += group.length;
    tally.seen += size * group.length;
    const meanLoss = tally.lossSum / tally.seen;
    const elapsed = (Date.now() - tally.start) / 1000;
    run.log.progress(progressLine({ epoch, epochs: config.epochs, batchIndex: tally.batchIndex, total: tally.total, meanLoss, seen: tally.seen, elapsed, remaining: run.data.train.count - tally.seen }));
  }
  return tally;
}

/** Checks and logs each step's loss of one run of the step, and adds it to the epoch's tally. */
function record(run: TrainingRun, epoch: number, result: StepResult, size: number, tally: Tally): void {
  for (const [i, loss] of result.losses.entries()) {
    const step = run.state.step + i + 1;
    const lr = runLr(run.config, run.state.step);
    checkLoss(loss, { epoch, step, lr, checkpoint: run.checkpoint });
    run.metrics.step(epoch + 1, step, loss, lr);
    tally.lossSum += loss * size;
    tally.correct += result.corrects[i];
  }
}

/** The lr of the run of the step that begins with optimizer step `step` (0-based). */
function runLr(config: RunConfig, step: number): number {
  return config.schedule ? lrAt(config.schedule, step) : config.lr;
}

async function finishEpoch(run: TrainingRun, epoch: number, tally: Tally): Promise<EpochMetrics> {
  const time = (Date.now() - tally.start) / 1000;
  const testAcc = await run.evaluator.accuracy(run.data.test, run.state.tensors);
  const m: EpochMetrics = {
    epoch: epoch + 1,
    train_loss: tally.lossSum / tally.seen,
    train_acc: tally.correct / tally.seen,
    test_acc: testAcc,
    time_s: time,
    img_per_s: tally.seen / time,
  };
  run.metrics.epoch(m);
  if (epoch === run.state.startEpoch) run.log.line(tableHeader());
  run.log.line(tableRow(m, run.config.epochs));
  const warning = divergenceWarning(m, tally.batchIndex);
  if (warning) run.log.line(warning);
  if (run.writes) saveProgress(run.checkpoint, run.program, run.config, run.flags, run.state.tensors, { epoch: epoch + 1, step: run.state.step });
  return m;
}
