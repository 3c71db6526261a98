/** A TrainingProgram compiled from a model file. */
import type { ModelDef } from "../graph/dsl";
import { ModelError } from "../graph/errors";
import { initialValues } from "../graph/init";
import { numel } from "../graph/types";
import { compileModel } from "../emit/compile";
import { encodeModel } from "../emit/encode";
import { lossMetadata } from "./loss";
import { optimizerMetadata } from "./optim/make";
import type { Optimizer } from "./optim/optimizer";
import type { TrainingProgram } from "./program";
import { dropoutMasks } from "../passes/dropout-masks";
import { lowerForWebGpu, WEBGPU_GRADIENTS } from "../passes/webgpu";
import { buildEvalGraph, buildStepGraph } from "./step";
import { buildSplitStep } from "./split-step";
import { trainingInfo } from "./training-info";

export function programFromModel(def: ModelDef, optimizer: Optimizer, seed: number, labelSmoothing = 0): TrainingProgram {
  if (!def.spec.preprocess) throw new ModelError(`model '${def.spec.name}' declares no preprocess (raw image shape); training needs one`);
  const shape = buildStepGraph(def, { optimizer, labelSmoothing, mode: "inputs", dropoutSeed: 0 });
  // The model's own tensors, parameters and buffers, as a built file's inference initialisers are.
  const modelTensors = [...shape.params, ...shape.buffers].map((p) => ({ name: p.name, dims: p.dims }));
  return {
    name: def.spec.name,
    rawShape: def.spec.preprocess.raw,
    mutable: [...modelTensors, ...shape.state.map((s) => ({ name: s.name, dims: s.dims }))],
    params: modelTensors,
    torchNames: def.spec.torchNames ?? {},
    optimizer: optimizer.name,
    labelSmoothing,
    defaults: def.spec.train ?? {},
    initial() {
      const tensors = new Map<string, Float32Array>();
      for (const p of shape.params) tensors.set(p.name, initialValues(seed, p.name, p.dims, p.fanIn, p.fill, def.spec.init));
      for (const p of shape.buffers) tensors.set(p.name, new Float32Array(numel(p.dims)).fill(p.fill));
      for (const s of shape.state) tensors.set(s.name, new Float32Array(numel(s.dims)));
      return { tensors, step: 0 };
    },
    stepGraph: (dropoutSeed) => buildStepGraph(def, { optimizer, labelSmoothing, mode: "inputs", dropoutSeed }).b.build(),
    lowerings: ["webgpu", "dropout"],
    loweredStepGraph(kind, options = {}) {
      // The WebGPU provider runs one Conv per weight gradient far faster than the CPU's choice of
      // one GEMM per kernel offset (docs/execution-providers.md).
      const gradients = kind === "webgpu" ? WEBGPU_GRADIENTS : options;
      const step = buildStepGraph(def, { optimizer, labelSmoothing, mode: "inputs", dropoutSeed: 0, gradients }).b.build();
      if (kind === "dropout") {
        const graph = dropoutMasks(step);
        return { graph, masks: graph.masks };
      }
      return lowerForWebGpu(step);
    },
    splitStep(gradients = {}) {
      const split = buildSplitStep(def, { optimizer, labelSmoothing, dropoutSeed: 0, gradients });
      const gradient = dropoutMasks(split.gradient);
      return { gradient, masks: gradient.masks, update: split.update, size: split.size };
    },
    evalGraph: () => buildEvalGraph(def).build(),
    trainedModel: (tensors, step) =>
      encodeModel(
        compileModel(def, {
          seed,
          weights: tensors,
          trainingInfo: (d, s) => trainingInfo(d, optimizer, s, { tensors, step }, labelSmoothing),
          metadata: { ...optimizerMetadata(optimizer), ...lossMetadata(labelSmoothing) },
        }),
      ),
  };
}
