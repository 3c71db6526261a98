/**
 * A TrainingProgram read from a built .onnx, imported into the IR once (src/emit/import.ts): the
 * algorithm in ModelProto.training_info is the step (passes/standalone-step.ts: its bound
 * initialisers become inputs, per the step contract), the inference graph behind the preprocessing
 * recorded in the metadata is the evaluation graph (eval-graph.ts, as for a model file), and the
 * trained model is the same file with new initialiser values. The bound tensors and their stored
 * values (dense, or a fresh build's sparse zeros) are read by training-state.ts.
 */
import type { Preprocess, TrainDefaults } from "../graph/dsl";
import { ModelError } from "../graph/errors";
import type { Graph } from "../graph/ir";
import type { Value } from "../graph/types";
import { encodeModel } from "../emit/encode";
import { importModel } from "../emit/import";
import type { onnx } from "../emit/proto";
import { torchNamesFromMetadata } from "../emit/state-dict";
import { dropoutMasks } from "../passes/dropout-masks";
import { standaloneStep } from "../passes/standalone-step";
import { evalGraph } from "./eval-graph";
import { LABEL_SMOOTHING_KEY } from "./loss";
import { OPTIMIZER_KEY } from "./optim/make";
import type { TrainingProgram } from "./program";
import { STEP_COUNTER } from "./step";
import { readTrainingState, withTrainingState } from "./training-state";

export function programFromOnnx(m: onnx.ModelProto, file: string): TrainingProgram {
  const ti = m.trainingInfo[0] as onnx.TrainingInfoProto | undefined;
  if (!ti?.algorithm) throw new ModelError(`${file}: has no training_info; build it with \`alexc build\` (without --no-training)`);
  const model = importModel(m, file);
  const prepText = model.metadata.get("alexc.preprocess");
  if (!prepText) throw new ModelError(`${file}: no alexc.preprocess metadata: cannot tell how raw images enter the model`);
  const prep = JSON.parse(prepText) as { raw: { shape: [string, number, number, number] }; resize: { size: [number, number] } | null };
  const preprocess: Preprocess = { raw: [prep.raw.shape[1], prep.raw.shape[2], prep.raw.shape[3]], resize: prep.resize?.size[0] };
  const g = model.graph;
  const { algorithm } = model.trainingInfo[0];
  const state = readTrainingState(m, file);
  const mutable = state.variables.filter((v) => v.name !== STEP_COUNTER).map(({ name, dims }) => ({ name, dims }));
  const params = state.variables.filter((v) => v.parameter).map(({ name, dims }) => ({ name, dims }));
  const optimizer = optimizerOf(model.metadata.get(OPTIMIZER_KEY), mutable);
  const bound = state.variables.map((v): Value => ({ name: v.name, dtype: v.dtype, shape: v.dims }));
  const step = standaloneStep(bound)(algorithm);

  return {
    name: model.metadata.get("alexc.model") ?? (g.name || "model"),
    rawShape: preprocess.raw,
    mutable,
    params,
    torchNames: torchNamesFromMetadata(m, file),
    optimizer,
    labelSmoothing: Number(model.metadata.get(LABEL_SMOOTHING_KEY) ?? 0),
    defaults: JSON.parse(model.metadata.get("alexc.train_defaults") ?? "{}") as TrainDefaults,
    initial: () => state.values(),
    lowerings: ["dropout"],
    loweredStepGraph(kind) {
      if (kind !== "dropout") throw new ModelError(`${file}: the ${kind} lowering needs the model file (.ts), not a built .onnx`);
      const graph = dropoutMasks(step);
      return { graph, masks: graph.masks };
    },
    stepGraph: (dropoutSeed) => seededDropouts(step, dropoutSeed),
    evalGraph: () => inferenceEvalGraph(g, preprocess, params.map((p) => p.name), model.metadata.get("alexc.model") ?? g.name),
    trainedModel: (tensors, stepCount) => encodeModel(withTrainingState(m, tensors, stepCount)),
  };
}

/** AdamW's files say so in the metadata (it keeps Adam's state names); Adam and SGD are told by their state. */
function optimizerOf(meta: string | undefined, mutable: readonly { name: string }[]): string {
  if (meta) return (JSON.parse(meta) as { name: string }).name;
  return mutable.some((t) => t.name.endsWith(".adam_m")) ? "adam" : "sgd";
}

/** The step with each Dropout's generator seeded from `dropoutSeed` and the node's position. */
function seededDropouts(step: Graph, dropoutSeed: number): Graph {
  const nodes = step.nodes.map((n, i) => (n.op === "Dropout" && !n.domain ? { ...n, attrs: { ...n.attrs, seed: (dropoutSeed + i) % 2147483647 } } : n));
  return { ...step, nodes };
}

/**
 * The evaluation graph of a built model: its inference graph behind the preprocessing, with the
 * parameters (`params`, initialisers of the file) as inputs and its other initialisers kept.
 */
function inferenceEvalGraph(g: Graph, p: Preprocess, paramNames: readonly string[], modelName: string): Graph {
  const params = new Set(paramNames);
  const input = g.inputs.find((v) => !params.has(v.name))!;
  const inits = new Map(g.initializers.map((t) => [t.name, t]));
  return evalGraph(`${g.name}_eval`, modelName, p, (b, x) => {
    for (const name of paramNames) b.input(name, inits.get(name)!.dtype, inits.get(name)!.dims);
    for (const t of g.initializers) if (!params.has(t.name)) b.initializer(t);
    const renamed = (v: Value | undefined) => (v?.name === input.name ? x : v);
    for (const n of g.nodes) b.keep(n, n.inputs.map(renamed));
    return b.output(b.value(g.outputs[0].name)!);
  }).build();
}
