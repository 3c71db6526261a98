/**
 * The training step and evaluation graphs.
 *
 * Step contract (docs/training-graph.md):
 *   inputs  images uint8 [N,C,H,W] · labels int64 [N] · lr float32 [] · step int64 [] ·
 *           every parameter, buffer (BatchNorm's running statistics) and optimizer-state
 *           tensor by name
 *   outputs loss float32 [] · correct int64 [] · <name>.next for every parameter, every
 *           buffer, every state tensor and step
 * In "bound" mode (ModelProto.training_info) parameters, buffers, state and step are not inputs
 * but initialisers of the enclosing model, and update_binding maps each to its ".next".
 */
import { ModelDef } from "../graph/dsl";
import { GraphBuilder } from "../graph/ir";
import type { GradientOptions } from "../graph/op";
import { trace } from "../graph/trace";
import { DTYPE_CODE, Value } from "../graph/types";
import { gradients } from "./autodiff";
import type { Optimizer } from "./optim/optimizer";
import { crossEntropyLoss } from "./loss";
import { preprocess, rawImageInput } from "./preprocess";
import { correctCount, evalGraph } from "./eval-graph";

export interface ParamInfo {
  readonly name: string;
  readonly dims: readonly number[];
  readonly fanIn: number;
  /** A constant start (dsl.ts TensorInit) instead of U(±1/√fanIn). */
  readonly fill?: number;
}

/** Model state the step updates without a gradient (BatchNorm's running statistics), and its start. */
export interface BufferInfo {
  readonly name: string;
  readonly dims: readonly number[];
  readonly fill: number;
}

export interface StepGraphOptions {
  readonly optimizer: Optimizer;
  readonly mode: "inputs" | "bound";
  /** Seed of the runtime dropout generators (change it per epoch for fresh masks). */
  readonly dropoutSeed: number;
  /** Tests compare with PyTorch with dropout off. */
  readonly disableDropout?: boolean;
  /** Label smoothing ε of the cross-entropy loss (loss.ts; default 0, PyTorch's). */
  readonly labelSmoothing?: number;
  /** Gradient formulations for the provider that will run the step (default: the CPU's). */
  readonly gradients?: GradientOptions;
}

export interface StepGraph {
  readonly b: GraphBuilder;
  readonly params: readonly ParamInfo[];
  readonly buffers: readonly BufferInfo[];
  /** State tensors: name and the parameter whose shape they take. */
  readonly state: readonly { name: string; param: string; dims: readonly number[] }[];
  /** Mutable tensor name → the output that replaces it after a step. */
  readonly updates: ReadonlyMap<string, string>;
}

export const STEP_COUNTER = "step";
export const next = (name: string) => `${name}.next`;

function mutable(b: GraphBuilder, mode: StepGraphOptions["mode"], name: string, dtype: Value["dtype"], dims: readonly number[]): Value {
  return mode === "inputs" ? b.input(name, dtype, dims) : b.adopt({ name, dtype, shape: dims });
}

export function buildStepGraph(def: ModelDef, opts: StepGraphOptions): StepGraph {
  const spec = def.spec;
  const b = new GraphBuilder(`${spec.name}_train_step`);
  const images = rawImageInput(b, spec.preprocess, spec.name);
  const labels = b.input("labels", "int64", ["N"]);
  const lr = b.input("lr", "float32", []);
  const step = mutable(b, opts.mode, STEP_COUNTER, "int64", []);
  const fb = forwardBackward(def, b, images, labels, opts);
  const { state, updates: optimizerUpdates } = optimizerStep(b, opts, { lr, step }, fb.params, fb.paramValues, fb.grads);
  const updates = new Map(optimizerUpdates);
  // Buffers are mutable tensors like the optimizer state: an input and its `.next`.
  for (const { name } of fb.buffers) updates.set(name, b.output(fb.bufferUpdates.get(name)!, next(name)).name);
  b.output(fb.loss);
  b.output(fb.correct);
  return { b, params: fb.params, buffers: fb.buffers, state, updates };
}

/** The training forward, its loss and correct count, every parameter's gradient and every buffer's update. */
export interface ForwardBackward {
  readonly params: readonly ParamInfo[];
  readonly paramValues: readonly Value[];
  readonly buffers: readonly BufferInfo[];
  /** Buffer name → its value after this step (BatchNorm's running statistics). */
  readonly bufferUpdates: ReadonlyMap<string, Value>;
  readonly loss: Value;
  readonly correct: Value;
  readonly grads: readonly Value[];
}

/**
 * The part of the step before the optimizer, shared by the whole step and by the gradient half of
 * the split step (split-step.ts), so that both compute the same gradients from the same IR.
 */
export function forwardBackward(def: ModelDef, b: GraphBuilder, images: Value, labels: Value, opts: Omit<StepGraphOptions, "optimizer">): ForwardBackward {
  const params: ParamInfo[] = [];
  const buffers: BufferInfo[] = [];
  const x = preprocess(b, images, def.spec.preprocess!);
  const { output: logits, params: paramValues, bufferUpdates } = trace(def, b, x, {
    training: true,
    dropout: !opts.disableDropout,
    prefix: "train",
    dropoutSeed: opts.dropoutSeed,
    params: (bb, name, dims, fanIn, init = {}) => {
      if (init.buffer) buffers.push({ name, dims, fill: init.fill ?? 0 });
      else params.push({ name, dims, fanIn, fill: init.fill });
      return mutable(bb, opts.mode, name, "float32", dims);
    },
  });
  const loss = crossEntropyLoss(b, logits, labels, opts.labelSmoothing ?? 0);
  const correct = correctCount(b, logits, labels);
  const grads = gradients(b, loss, paramValues, opts.gradients);
  return { params, paramValues, buffers, bufferUpdates, loss, correct, grads };
}

/**
 * The optimizer's update of every parameter from its gradient, the state tensors it reads and the
 * step counter's increment, each declared as an output `<name>.next`; shared by the whole step and
 * the update half of the split step.
 */
export function optimizerStep(
  b: GraphBuilder,
  opts: Pick<StepGraphOptions, "optimizer" | "mode">,
  at: { lr: Value; step: Value },
  params: readonly ParamInfo[],
  paramValues: readonly Value[],
  grads: readonly Value[],
): Pick<StepGraph, "state" | "updates"> {
  const stateInfo = params.flatMap((p) => opts.optimizer.stateFor(p.name).map((s) => ({ name: s.name, param: s.param, dims: p.dims })));
  const stateValues = new Map(stateInfo.map((s) => [s.name, mutable(b, opts.mode, s.name, "float32", s.dims)]));
  const stepFloat = b.op1("Cast", [at.step], { to: DTYPE_CODE.float32 }, { name: "optimizer/step/Cast" });
  const updated = new Map<number, { param: Value; state: ReadonlyMap<string, Value> }>();
  const update = opts.optimizer.updates({ b, lr: at.lr, step: stepFloat, state: stateValues });
  for (const i of updateOrder(b, paramValues, grads)) {
    const p = paramValues[i];
    updated.set(i, b.scoped(`optimizer/${p.name}`, () => update(p, grads[i])));
  }
  const updates = new Map<string, string>();
  paramValues.forEach((p, i) => {
    const { param: p2, state } = updated.get(i)!;
    updates.set(p.name, b.output(p2, next(p.name)).name);
    for (const [name, v] of state) updates.set(name, b.output(v, next(name)).name);
  });
  const step2 = b.op1("Add", [at.step, b.constant("int64", [], [1])], {}, { name: "optimizer/step/Add", outputNames: [next(STEP_COUNTER)] });
  b.output(step2);
  updates.set(STEP_COUNTER, step2.name);
  return { state: stateInfo, updates };
}

/**
 * The order to emit the parameters' updates in. onnxruntime's CPU session runs a graph depth
 * first from its nodes without consumers, the last-listed first, so the updates run in the reverse
 * of their emission: in parameter order that is the backward's own order, each layer's update
 * right after its gradient, which is what a convolution wants (its gradient reads activations far
 * larger than itself, and computing it frees them). A parameter whose gradient is far larger than
 * what it is computed from — a fully connected weight — should run last instead, when the backward has freed the activations,
 * rather than hold its gradient and the optimizer's full-size temporaries on top of them. Those are
 * emitted first. Only the order changes, not a value; the step's arena peaks lower
 * (docs/performance.md).
 */
function updateOrder(b: GraphBuilder, params: readonly Value[], grads: readonly Value[]): number[] {
  const last = params.map((p, i) => {
    const inputs = (b.producer(grads[i])?.inputs ?? []).filter((v): v is Value => !!v);
    const perExample = inputs.reduce((sum, v) => sum + perExampleSize(v), 0);
    return perExample > 0 && perExampleSize(p) >= RUNS_LAST_RATIO * perExample;
  });
  const order = params.map((_, i) => i);
  return [...order.filter((i) => last[i]), ...order.filter((i) => !last[i])];
}

/** Elements per example: symbolic (batch) dims count as 1. */
function perExampleSize(v: Value): number {
  return v.shape.reduce<number>((n, d) => n * (typeof d === "number" ? d : 1), 1);
}

/** "Far larger": even a batch this size of the gradient's inputs is smaller than it. */
const RUNS_LAST_RATIO = 256;

/** Evaluation: raw images (+ labels) → logits and the number of correct predictions; parameters are inputs. */
export function buildEvalGraph(def: ModelDef): GraphBuilder {
  const spec = def.spec;
  return evalGraph(`${spec.name}_eval`, spec.name, spec.preprocess, (b, x) => {
    const traced = trace(def, b, x, { training: false, params: (bb, name, dims) => bb.input(name, "float32", dims) });
    return b.output(traced.output, "logits");
  });
}
