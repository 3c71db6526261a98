/**
 * The training step split in two at the gradients, for data-parallel training (`--dist mpi`):
 * between the halves each process all-reduces the gradients, so they travel as one flat float32
 * buffer, the layout MPI_Allreduce takes.
 *
 *   gradient step  images · labels · grad_scale · every parameter → loss · correct · gradients [P]
 *                  (every parameter's gradient flattened and concatenated in parameter order,
 *                  times `grad_scale`, which the trainer sets to this process's share of the batch)
 *   update step    lr · step · every parameter and state tensor · gradients [P]
 *                  → `<name>.next` for each of them and for step (the step contract's)
 *
 * Both halves come from the same IR builders as the whole step (step.ts: `forwardBackward`,
 * `optimizerStep`), so they compute its gradients and its update; the whole step is unchanged.
 */
import { UsageError } from "../graph/errors";
import type { ModelDef } from "../graph/dsl";
import { GraphBuilder, type Graph } from "../graph/ir";
import { numel, type Value } from "../graph/types";
import { rawImageInput } from "./preprocess";
import { forwardBackward, optimizerStep, STEP_COUNTER, type ParamInfo, type StepGraphOptions } from "./step";

export const GRADIENTS = "gradients";
export const GRAD_SCALE = "grad_scale";

export interface SplitStep {
  readonly gradient: Graph;
  readonly update: Graph;
  readonly params: readonly ParamInfo[];
  /** Elements of the flat gradient: every parameter's, in parameter order. */
  readonly size: number;
}

export function buildSplitStep(def: ModelDef, opts: Omit<StepGraphOptions, "mode">): SplitStep {
  const { graph: gradient, params } = gradientStep(def, opts);
  const update = updateStep(def.spec.name, params, opts);
  return { gradient, update, params, size: params.reduce((n, p) => n + numel(p.dims), 0) };
}

function gradientStep(def: ModelDef, opts: Omit<StepGraphOptions, "mode">): { graph: Graph; params: readonly ParamInfo[] } {
  const b = new GraphBuilder(`${def.spec.name}_gradient_step`);
  const images = rawImageInput(b, def.spec.preprocess, def.spec.name);
  const labels = b.input("labels", "int64", ["N"]);
  const fb = forwardBackward(def, b, images, labels, { ...opts, mode: "inputs" });
  if (fb.buffers.length > 0) {
    // Each rank's batch statistics differ; PyTorch's DDP broadcasts rank 0's buffers every step, alexc does not yet.
    throw new UsageError(`--dist mpi: model '${def.spec.name}' has BatchNorm running statistics (${fb.buffers.length} buffers), which data-parallel training does not carry yet; train it in one process`);
  }
  const scale = b.input(GRAD_SCALE, "float32", []);
  const flat = b.scoped("gradients", () => {
    const parts = fb.grads.map((g) => b.op1("Reshape", [g, b.ints([-1])]));
    const all = parts.length === 1 ? parts[0] : b.op1("Concat", parts, { axis: 0 });
    return b.op1("Mul", [all, scale]);
  });
  b.output(fb.loss);
  b.output(fb.correct);
  b.output(flat, GRADIENTS);
  return { graph: b.build(), params: fb.params };
}

function updateStep(name: string, params: readonly ParamInfo[], opts: Omit<StepGraphOptions, "mode">): Graph {
  const b = new GraphBuilder(`${name}_update_step`);
  const lr = b.input("lr", "float32", []);
  const step = b.input(STEP_COUNTER, "int64", []);
  const paramValues = params.map((p) => b.input(p.name, "float32", p.dims));
  const size = params.reduce((n, p) => n + numel(p.dims), 0);
  const flat = b.input(GRADIENTS, "float32", [size]);
  let offset = 0;
  const grads: Value[] = params.map((p) =>
    b.scoped(`gradients/${p.name}`, () => {
      const n = numel(p.dims);
      const slice = b.op1("Slice", [flat, b.ints([offset]), b.ints([offset + n]), b.ints([0])]);
      offset += n;
      return b.op1("Reshape", [slice, b.ints([...p.dims])]);
    }),
  );
  optimizerStep(b, { ...opts, mode: "inputs" }, { lr, step }, params, paramValues, grads);
  return b.build();
}
