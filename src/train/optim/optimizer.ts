/**
 * Optimizers as graph builders: given parameters and their gradients, emit the update in
 * plain elementwise ONNX ops over explicit state tensors (onnxruntime-node has no
 * optimizer kernels). The learning rate and step counter are graph values, so schedules
 * and resumption need no rebuild.
 */
import type { GraphBuilder } from "../../graph/ir";
import type { Value } from "../../graph/types";

/** The optimizers alexc builds (`--optimizer`, `TrainDefaults.optimizer`). */
export const OPTIMIZERS = ["adam", "adamw", "sgd"] as const;
export type OptimizerName = (typeof OPTIMIZERS)[number];

export interface StateTensor {
  /** State name, e.g. "conv1.weight.adam_m". */
  readonly name: string;
  /** The parameter it shadows (same shape, zero at the start). */
  readonly param: string;
}

export interface UpdateContext {
  readonly b: GraphBuilder;
  /** Learning rate, float32 scalar. */
  readonly lr: Value;
  /** Steps done before this one (0 at the first step), float32 scalar. */
  readonly step: Value;
  /** Current value of each state tensor, by name. */
  readonly state: ReadonlyMap<string, Value>;
}

export interface Optimizer {
  readonly name: OptimizerName;
  /** The state tensors each parameter needs. */
  stateFor(param: string): StateTensor[];
  /**
   * Starts one step graph's updates: returns the function that emits one parameter's update.
   * Values all parameters' updates share (Adam's bias corrections) belong to that function, made
   * on its first call and reused, so nothing outlives the step graph.
   */
  updates(ctx: UpdateContext): ParamUpdate;
  /** Hyperparameters for metadata and checkpoints. */
  readonly config: Readonly<Record<string, number | boolean | string>>;
}

/** Emits one parameter's update; returns the new parameter and new state values (by state name). */
export type ParamUpdate = (param: Value, grad: Value) => { param: Value; state: Map<string, Value> };

/** PyTorch's (coupled) weight decay: g + wd·p. */
export function withWeightDecay(b: GraphBuilder, grad: Value, param: Value, wd: number): Value {
  return wd === 0 ? grad : b.op1("Add", [grad, b.op1("Mul", [param, b.scalar(wd, param.dtype)])]);
}
