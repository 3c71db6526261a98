/**
 * A Target is one execution provider as alexc trains on it. It owns three things the trainer used
 * to decide inline: the gradient formulations the step is built with, the passes run over the step
 * and the evaluation model before their sessions (one visible list each of src/passes), and the session
 * options. It opens a training program into a step runner and an evaluator; the trainer, the CLI
 * and the scripts go through it instead of chaining build → lower → session themselves.
 * One file per provider: cpu.ts, webgpu.ts, cuda.ts; the CLI's flags map onto them in from-flags.ts.
 */
import type { GradientOptions } from "../../graph/op";
import type { Lowering, TrainingProgram } from "../program";
import type { ExecutionProvider, SessionOptions, StepSessionOptions } from "../session";
import { Evaluator } from "../evaluate";
import { StepRunner } from "../step-runner";
import type { Graph } from "../../graph/ir";
import type { Pass } from "../../passes/run";
import { TargetStep } from "./target-step";

/** The backend flags of `alexc train`, as given (a checkpoint records them with the run's config). */
export interface TargetFlags {
  readonly ep: ExecutionProvider;
  readonly threads?: number;
  readonly lowering?: "default" | "webgpu";
  readonly nchwc?: boolean;
  readonly winograd?: boolean;
  readonly native?: boolean;
}

/** What a target decides; `target()` adds the opening of programs, which is the same for all. */
export interface TargetSpec {
  readonly ep: ExecutionProvider;
  /** The flags this target stands for. */
  readonly flags: TargetFlags;
  /** Which of the program's step formulations runs here (program.ts): masks as inputs for Dropout, or the WebGPU one. */
  readonly lowering: Lowering;
  /** One step session for the whole run, with parameters and state left on the device between steps and downloaded at each epoch's end. */
  readonly deviceResident: boolean;
  /** The gradient formulations of a step built for this target at `batch`. */
  gradients(batch: number): GradientOptions;
  stepPasses(batch: number, stepsPerRun: number): readonly Pass[];
  evalPasses(batch: number): readonly Pass[];
  stepSession(mutable: readonly string[], stepsPerRun: number): StepSessionOptions;
  evalSession(): SessionOptions;
  /** What the step's passes did to `step` (the graph after them), appended to the trainer's "step:" log line ("" for nothing). */
  stepNote(step: Graph): string;
}

export interface StepOptions {
  /** The batch every step but an epoch's last runs at. */
  readonly batch: number;
  /** Optimizer steps per session run (an ONNX Loop when > 1); default 1. */
  readonly stepsPerRun?: number;
  /** The run's seed: with K > 1 steps per run, the runtime's dropout is seeded from it per epoch. */
  readonly seed?: number;
  /** onnxruntime profiles every run into files starting with this path. */
  readonly profilePrefix?: string;
}

export interface Target extends TargetSpec {
  /** Throws where the program or the options do not suit this target (the WebGPU formulation from a built .onnx, or in a Loop). */
  checkStep(program: TrainingProgram, opts: StepOptions): void;
  /** The program's step on this target, as the trainer drives it. */
  openStep(program: TrainingProgram, opts: StepOptions): Promise<StepRunner>;
  /** The step's model, masks and sessions alone: for scripts that feed the step themselves. */
  step(program: TrainingProgram, opts: StepOptions): TargetStep;
  openEvaluator(program: TrainingProgram, batch: number): Promise<Evaluator>;
}

export function target(spec: TargetSpec): Target {
  return {
    ...spec,
    checkStep: (program, opts) => TargetStep.check(spec, program, opts),
    openStep: (program, opts) => StepRunner.open(spec, program, opts),
    step: (program, opts) => TargetStep.build(spec, program, opts),
    openEvaluator: (program, batch) => Evaluator.open(spec, program, batch),
  };
}
