/**
 * What the trainer runs, independent of where it came from: a model file (program-dsl.ts)
 * or a built .onnx with training_info (program-onnx.ts). Both follow the step contract of
 * docs/training-graph.md.
 */
import type { TrainDefaults } from "../graph/dsl";
import type { MaskInput } from "../passes/webgpu";
import type { TorchNames } from "../emit/state-dict";
import type { GradientOptions } from "../graph/op";
import type { Graph } from "../graph/ir";

export type Lowering = "webgpu" | "dropout";

export interface MutableTensor {
  readonly name: string;
  readonly dims: readonly number[];
}

/** The two halves of the step a data-parallel run drives, with the flat gradient's length between them. */
export interface DistributedStep {
  readonly gradient: Graph;
  readonly masks: readonly MaskInput[];
  readonly update: Graph;
  readonly size: number;
}

export interface TrainingProgram {
  readonly name: string;
  /** One raw image as the data set stores it: [C, H, W] uint8. */
  readonly rawShape: readonly [number, number, number];
  /** Parameters, buffers and optimizer state (float32), fed by name and replaced by "<name>.next". */
  readonly mutable: readonly MutableTensor[];
  /**
   * The model's parameters and buffers (BatchNorm's running statistics; a subset of `mutable`):
   * the inference graph's initialisers, e.g. for `--init-from`.
   */
  readonly params: readonly MutableTensor[];
  /** PyTorch module paths of its layers (state-dict.ts), for weights saved by PyTorch. */
  readonly torchNames: TorchNames;
  readonly optimizer: string;
  /** The loss's label smoothing ε (loss.ts). */
  readonly labelSmoothing: number;
  readonly defaults: TrainDefaults;
  /** Starting values: parameters, zero (or saved) state, and the step counter. */
  initial(): { tensors: Map<string, Float32Array>; step: number };
  /** The standalone step graph; `dropoutSeed` seeds the runtime's dropout generators. */
  stepGraph(dropoutSeed: number): Graph;
  /** The lowerings `loweredStepGraph` supports ("webgpu" needs the model file). */
  readonly lowerings: readonly Lowering[];
  /**
   * The step with dropout masks as inputs (passes/webgpu.ts): "webgpu" lowers every op the WebGPU
   * provider lacks, "dropout" only Dropout (the CPU trainer's default). `gradients` chooses the
   * gradient formulations where the program builds its step (a model file; a built .onnx keeps its own).
   */
  loweredStepGraph(kind: Lowering, gradients?: GradientOptions): { graph: Graph; masks: readonly MaskInput[]; maxBatch?: number };
  /**
   * The step split at the gradients for data-parallel training (split-step.ts), the gradient half
   * with dropout masks as inputs; absent for a built .onnx, whose step comes whole.
   */
  splitStep?(gradients?: GradientOptions): DistributedStep;
  /** images uint8 + labels + parameters → logits, correct. */
  evalGraph(): Graph;
  /** The trained model: inference graph with these weights, training_info with this state. */
  trainedModel(tensors: ReadonlyMap<string, Float32Array>, step: number): Uint8Array;
}
