/**
 * ModelProto.training_info for `alexc build` (layout: docs/training-graph.md):
 * - `algorithm`: one optimizer step whose parameters are the inference graph's initialisers; the
 *   optimizer state and the step counter are its own initialisers;
 * - `update_binding`: every mutable tensor → the algorithm output that replaces it;
 * - `initialization` + `initialization_binding`: a graph that creates the optimizer state (zeros)
 *   and the step (0), the ONNX IR's "reset to untrained" step.
 * A fresh build stores each state tensor as a sparse initialiser with no non-zero entries (its
 * full shape, a few bytes), since the binding keys must name initialisers; a trained file stores
 * the state it reached as dense initialisers.
 */
import type { ModelDef } from "../graph/dsl";
import { GraphBuilder } from "../graph/ir";
import { DTYPE_CODE, makeTensor } from "../graph/types";
import { graphProto, tensorProto } from "../emit/encode";
import { nodeDoc } from "../emit/compile";
import type { onnx } from "../emit/proto";
import type { Optimizer } from "./optim/optimizer";
import { buildStepGraph, STEP_COUNTER } from "./step";

/** The output of the initialization graph bound to the state tensor `name`. */
export const initial = (name: string) => `${name}.initial`;

/** `state` carries trained optimizer state and step; without it the state is zeros and the step 0. */
export function trainingInfo(
  def: ModelDef,
  optimizer: Optimizer,
  seed: number,
  state?: { tensors: ReadonlyMap<string, Float32Array>; step: number },
  labelSmoothing = 0,
): onnx.ITrainingInfoProto {
  const sg = buildStepGraph(def, { optimizer, labelSmoothing, mode: "bound", dropoutSeed: seed });
  const g = graphProto(sg.b.build(`one ${optimizer.name} step of ${def.spec.name}: training forward, loss, backward, update`), { nodeDoc });
  const dense: onnx.ITensorProto[] = [];
  const sparse: onnx.ISparseTensorProto[] = [];
  for (const s of sg.state) {
    const data = state?.tensors.get(s.name);
    if (data) dense.push(tensorProto({ name: s.name, dtype: "float32", dims: s.dims, data }));
    else sparse.push(sparseZeros(s.name, s.dims));
  }
  dense.push(tensorProto(makeTensor(STEP_COUNTER, "int64", [], [state?.step ?? 0])));
  const init = initializationGraph(def.spec.name, sg.state);
  return {
    initialization: graphProto(init.build(`creates the ${optimizer.name} state (zeros) and the step counter (0) of ${def.spec.name}`)),
    initializationBinding: [...sg.state.map((s) => s.name), STEP_COUNTER].map((key) => ({ key, value: initial(key) })),
    algorithm: { ...g, initializer: [...(g.initializer ?? []), ...dense], sparseInitializer: sparse },
    updateBinding: [...sg.updates].map(([key, value]) => ({ key, value })),
  };
}

/** No inputs; one output `<name>.initial` per state tensor (zeros of its shape) and `step.initial` (0). */
function initializationGraph(model: string, state: readonly { name: string; dims: readonly number[] }[]): GraphBuilder {
  const b = new GraphBuilder(`${model}_initialization`);
  const zeros = (name: string, dtype: "float32" | "int64", dims: readonly number[]) =>
    b.output(b.op1("ConstantOfShape", [b.ints(dims)], { value: makeTensor("", dtype, [1], [0]) }, { name: `${name}/ConstantOfShape`, outputNames: [initial(name)] }));
  for (const s of state) zeros(s.name, "float32", s.dims);
  zeros(STEP_COUNTER, "int64", []);
  return b;
}

/** A float32 tensor of zeros as a SparseTensorProto: its dims, and no values or indices. */
function sparseZeros(name: string, dims: readonly number[]): onnx.ISparseTensorProto {
  return {
    values: { name, dataType: DTYPE_CODE.float32, dims: [0] },
    indices: { name: `${name}.indices`, dataType: DTYPE_CODE.int64, dims: [0] },
    dims: [...dims],
  };
}
