/**
 * ModelProto.training_info for `alexc build`: the algorithm is one optimizer step whose
 * parameters are the inference graph's initialisers; optimizer state and the step counter
 * are algorithm initialisers (zeros); update_binding maps every mutable tensor to the
 * algorithm output that replaces it.
 */
import type { ModelDef } from "../graph/dsl";
import { makeTensor, numel } from "../graph/types";
import { graphProto, tensorProto } from "../emit/encode";
import { nodeDoc } from "../emit/compile";
import type { onnx } from "../emit/proto";
import type { Optimizer } from "./optim/optimizer";
import { buildStepGraph, STEP_COUNTER } from "./step";

/** `state` carries trained optimizer state and step; absent tensors start at zero. */
export function trainingInfo(
  def: ModelDef,
  optimizer: Optimizer,
  seed: number,
  state?: { tensors: ReadonlyMap<string, Float32Array>; step: number },
): onnx.ITrainingInfoProto {
  const sg = buildStepGraph(def, { optimizer, mode: "bound", dropoutSeed: seed });
  const g = graphProto(sg.b.build(`one ${optimizer.name} step of ${def.spec.name}: training forward, loss, backward, update`), { nodeDoc });
  const stateTensors = [
    ...sg.state.map((s) =>
      tensorProto({ name: s.name, dtype: "float32", dims: s.dims, data: state?.tensors.get(s.name) ?? new Float32Array(numel(s.dims)) }),
    ),
    tensorProto(makeTensor(STEP_COUNTER, "int64", [], [state?.step ?? 0])),
  ];
  return {
    algorithm: { ...g, initializer: [...(g.initializer ?? []), ...stateTensors] },
    updateBinding: [...sg.updates].map(([key, value]) => ({ key, value })),
  };
}
