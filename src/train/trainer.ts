/**
 * The training loop (`alexc train`), as an orchestrator of its pieces: where the run starts
 * (run-state.ts), the target's evaluator and step runner (targets/, step-runner.ts, evaluate.ts),
 * the epochs (epoch.ts) with their checkpoints (checkpointing.ts) and metrics (metrics.ts), and
 * the trained model written at the end.
 *
 * Dropout masks are fed as step inputs drawn from the run seed, the epoch and the batch index, so
 * a run resumed mid-epoch sees exactly the masks a straight run saw, from a model file or a built
 * .onnx (K steps per run keep onnxruntime's Dropout, seeded per epoch: exact at epoch boundaries).
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
import type { StepRunner } from "./step-runner";
import type { Target } from "./targets/target";

export interface TrainConfig extends RunConfig {
  /** Where and how the step and the evaluation run (targets/from-flags.ts maps the CLI's flags onto one). */
  readonly target: Target;
  readonly out: string;
  readonly resume: boolean;
}

export async function train(program: TrainingProgram, data: { train: Split; test: Split }, cfg: TrainConfig, log: Logger): Promise<EpochMetrics[]> {
  prepareOutDir(cfg.out);
  checkImages(program, data.train);
  const checkpoint = checkpointPath(cfg.out);
  const state = initialRunState(program, cfg, checkpoint, log);
  const stepOptions = { batch: cfg.batchSize, stepsPerRun: cfg.stepsPerRun ?? 1, seed: cfg.seed };
  cfg.target.checkStep(program, stepOptions);
  const evaluator = await cfg.target.openEvaluator(program, cfg.evalBatchSize);
  const interrupt = new InterruptWatch();
  const metrics = new MetricsFile(cfg.out);
  const results: EpochMetrics[] = [];
  let runner: StepRunner | undefined;
  try {
    runner = await cfg.target.openStep(program, stepOptions);
    const run: TrainingRun = { program, data, config: cfg, flags: cfg.target.flags, state, runner, evaluator, metrics, checkpoint, interrupt, log };
    for (let epoch = state.startEpoch; epoch < cfg.epochs && !interrupt.requested; epoch++) {
      const m = await runEpoch(run, epoch);
      if (m) results.push(m);
    }
  } finally {
    interrupt.stop();
    await runner?.release();
    await evaluator.release();
  }
  if (interrupt.requested) throw new InterruptedError("training interrupted (SIGINT)");
  const trained = path.join(cfg.out, `${program.name}.onnx`);
  writeFileAtomic(trained, program.trainedModel(state.tensors, state.step));
  log.line(`wrote ${trained} and ${metrics.file}`);
  return results;
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
