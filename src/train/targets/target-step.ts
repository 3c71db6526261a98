/**
 * The step a target runs for a program: the program's step in the target's formulation, built with
 * its gradient options, through its step passes, opened with its session options. With one step
 * per run the model is the same every epoch and is lowered once; with K > 1 (an ONNX Loop, which
 * keeps onnxruntime's Dropout) it is rebuilt per epoch with that epoch's dropout seed.
 */
import { IoError, UsageError } from "../../graph/errors";
import type { Graph } from "../../graph/ir";
import { runPasses } from "../../passes/run";
import { dropoutSeed } from "../dropout";
import type { MaskInput } from "../../passes/webgpu";
import type { TrainingProgram } from "../program";
import { createStepSession, type StepSession } from "../session";
import type { StepOptions, TargetSpec } from "./target";

export class TargetStep {
  /** The step after the target's passes: the last one built (for the log line). */
  private last: Graph | undefined;
  private readonly fixed: Graph | undefined;

  private constructor(
    private readonly spec: TargetSpec,
    private readonly program: TrainingProgram,
    private readonly opts: StepOptions,
    /** The step's dropout-mask inputs (none with K > 1: the Loop keeps onnxruntime's Dropout). */
    readonly masks: readonly MaskInput[],
    graph: Graph | undefined,
  ) {
    this.fixed = graph && this.lower(graph);
  }

  get stepsPerRun(): number {
    return this.opts.stepsPerRun ?? 1;
  }

  /** Throws where the program or the options do not suit the target (before anything is built). */
  static check(spec: TargetSpec, program: TrainingProgram, opts: StepOptions): void {
    if (spec.lowering === "webgpu" && !program.lowerings.includes("webgpu")) {
      throw new IoError(`the WebGPU lowering needs the model file (.ts), not a built .onnx`);
    }
    if (spec.lowering === "webgpu" && (opts.stepsPerRun ?? 1) > 1) throw new IoError(`--steps-per-run > 1 uses an ONNX Loop, which the WebGPU provider lacks`);
  }

  static build(spec: TargetSpec, program: TrainingProgram, opts: StepOptions): TargetStep {
    TargetStep.check(spec, program, opts);
    if ((opts.stepsPerRun ?? 1) > 1) return new TargetStep(spec, program, opts, [], undefined);
    const lowered = program.loweredStepGraph(spec.lowering, spec.gradients(opts.batch));
    if (lowered.maxBatch !== undefined && opts.batch > lowered.maxBatch) {
      throw new UsageError(`--batch-size ${opts.batch}: the WebGPU step indexes max-pooling in int32, which holds batches up to ${lowered.maxBatch} for '${program.name}'`);
    }
    return new TargetStep(spec, program, opts, lowered.masks, lowered.graph);
  }

  /** The graph the session runs in `epoch`, every pass applied. */
  model(epoch: number): Graph {
    return this.fixed ?? this.lower(this.program.stepGraph(dropoutSeed(this.opts.seed ?? 0, epoch)));
  }

  private lower(step: Graph): Graph {
    this.last = runPasses(step, this.spec.stepPasses(this.opts.batch, this.stepsPerRun));
    return this.last;
  }

  /** A session running `epoch`'s step. */
  open(epoch: number): Promise<StepSession> {
    const options = this.spec.stepSession(
      this.program.mutable.map((t) => t.name),
      this.stepsPerRun,
    );
    return createStepSession(this.model(epoch), this.opts.profilePrefix ? { ...options, profilePrefix: this.opts.profilePrefix } : options);
  }

  /** How the step runs, for the log: the session's binding and what the passes did. */
  describe(session: StepSession): string {
    return `step: ${session.runner}${this.last ? this.spec.stepNote(this.last) : ""}`;
  }
}
