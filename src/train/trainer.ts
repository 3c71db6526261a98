/**
 * The training loop (`alexc train`), as an orchestrator of its pieces: where the run starts
 * (run-state.ts), the target's evaluator and step runner (targets/, step-runner.ts, evaluate.ts),
 * the epochs (epoch.ts) with their checkpoints (checkpointing.ts) and metrics (metrics.ts), and
 * the trained model written at the end.
 *
 * Dropout masks are fed as step inputs drawn from the run seed, the epoch and the batch index, so
 * a run resumed mid-epoch sees exactly the masks a straight run saw, from a model file or a built
 * .onnx (K steps per run keep onnxruntime's Dropout, seeded per epoch: exact at epoch boundaries).
 *
 * In a data-parallel run (`--dist mpi`, dist/) this process is one rank: its step runner trains
 * its shard of every batch, the evaluation is sharded, and rank 0 alone writes, so that the files
 * are those of one process.
 */
import * as fs from "fs";
import * as path from "path";
import { IoError } from "../graph/errors";
import { writeFileAtomic } from "../emit/atomic-write";
import type { Split } from "./data/fashion-mnist";
import { checkpointPath, InterruptedError, InterruptWatch, type RunConfig } from "./checkpointing";
import { runEpoch, type TrainingRun } from "./epoch";
import { MetricsFile, type EpochMetrics } from "./metrics";
import type { TrainingProgram } from "./program";
import type { Logger } from "./progress";
import { initialRunState } from "./run-state";
import type { Runner } from "./step-runner";
import type { Evaluator } from "./evaluate";
import type { Communicator } from "./dist/communicator";
import { checkRanksAgree } from "./dist/agreement";
import { shardedEvaluator } from "./dist/dist-evaluator";
import { describeTiming, DistStepRunner } from "./dist/dist-runner";
import type { Target } from "./targets/target";

export interface TrainConfig extends RunConfig {
  /** Where and how the step and the evaluation run (targets/from-flags.ts maps the CLI's flags onto one). */
  readonly target: Target;
  readonly out: string;
  readonly resume: boolean;
  /** A data-parallel run's communicator (`--dist mpi`): this process is one of its ranks. */
  readonly dist?: Communicator;
}

export async function train(program: TrainingProgram, data: { train: Split; test: Split }, cfg: TrainConfig, log: Logger): Promise<EpochMetrics[]> {
  const writes = !cfg.dist || cfg.dist.rank === 0;
  if (writes) prepareOutDir(cfg.out);
  checkImages(program, data.train);
  const checkpoint = checkpointPath(cfg.out);
  const state = initialRunState(program, cfg, checkpoint, log);
  if (cfg.dist) log.line(`ranks agree at the start: parameters and state sha256 ${checkRanksAgree(cfg.dist, state.tensors, "at the start").slice(0, 16)}`);
  const stepOptions = { batch: cfg.batchSize, stepsPerRun: cfg.stepsPerRun ?? 1, seed: cfg.seed };
  cfg.target.checkStep(program, stepOptions);
  const evaluator = await openEvaluator(program, cfg);
  const interrupt = new InterruptWatch();
  const metrics = writes ? new MetricsFile(cfg.out) : { file: "", step: () => undefined, epoch: () => undefined };
  const results: EpochMetrics[] = [];
  let runner: Runner | undefined;
  try {
    runner = cfg.dist ? await DistStepRunner.open(cfg.target, program, { batch: cfg.batchSize, comm: cfg.dist }) : await cfg.target.openStep(program, stepOptions);
    const run: TrainingRun = { program, data, config: cfg, flags: cfg.target.flags, state, runner, evaluator, metrics, checkpoint, interrupt, log, writes };
    for (let epoch = state.startEpoch; epoch < cfg.epochs && !interrupt.requested; epoch++) {
      const m = await runEpoch(run, epoch);
      if (m) results.push(m);
    }
    if (runner instanceof DistStepRunner) log.line(describeTiming(runner.timing));
  } finally {
    interrupt.stop();
    await runner?.release();
    await evaluator.release();
  }
  if (interrupt.requested) throw new InterruptedError("training interrupted (SIGINT)");
  if (cfg.dist) log.line(`ranks agree at the end: parameters and state sha256 ${checkRanksAgree(cfg.dist, state.tensors, "at the end").slice(0, 16)}`);
  if (!writes) return results;
  const trained = path.join(cfg.out, `${program.name}.onnx`);
  writeFileAtomic(trained, program.trainedModel(state.tensors, state.step));
  log.line(`wrote ${trained} and ${metrics.file}`);
  return results;
}

/** The evaluator; in a data-parallel run, over this rank's shard of the test set with the counts summed. */
async function openEvaluator(program: TrainingProgram, cfg: TrainConfig): Promise<Pick<Evaluator, "accuracy" | "release">> {
  const evaluator = await cfg.target.openEvaluator(program, cfg.evalBatchSize);
  return cfg.dist ? shardedEvaluator(evaluator, cfg.dist) : evaluator;
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

function checkImages(program: TrainingProgram, split: Split): void {
  const [c, h, w] = program.rawShape;
  if (c !== 1 || h !== split.rows || w !== split.cols) {
    throw new IoError(`model '${program.name}' takes raw images of ${c}×${h}×${w}, the data has 1×${split.rows}×${split.cols}`);
  }
}
