/**
 * A TrainingProgram read from a built .onnx, imported into the IR once (src/emit/import.ts): the
 * algorithm in ModelProto.training_info is the step (passes/standalone-step.ts: its bound
 * initialisers become inputs, per the step contract), the inference graph behind the preprocessing
 * recorded in the metadata is the evaluation graph (eval-graph.ts, as for a model file), and the
 * trained model is the same file with new initialiser values. The bound tensors and their stored
 * values (dense, or a fresh build's sparse zeros) are read by training-state.ts.
 */
import type { Preprocess } from "../graph/dsl";
import { AlexcError, ModelError } from "../graph/errors";
import type { Graph, Node } from "../graph/ir";
import { registeredOps } from "../graph/ops";
import type { Value } from "../graph/types";
import { encodeModel } from "../emit/encode";
import { importModel } from "../emit/import";
import type { onnx } from "../emit/proto";
import { torchNamesFromMetadata } from "../emit/state-dict";
import { dropoutMasks } from "../passes/dropout-masks";
import { standaloneStep } from "../passes/standalone-step";
import { evalGraph } from "./eval-graph";
import { labelSmoothingOf, optimizerOf, preprocessOf, trainDefaultsOf } from "./onnx-metadata";
import type { TrainingProgram } from "./program";
import { STEP_COUNTER } from "./step";
import { readTrainingState, withTrainingState } from "./training-state";

export function programFromOnnx(m: onnx.ModelProto, file: string): TrainingProgram {
  const ti = m.trainingInfo[0] as onnx.TrainingInfoProto | undefined;
  if (!ti?.algorithm) throw new ModelError(`${file}: has no training_info; build it with \`alexc build\` (without --no-training)`);
  const model = importModel(m, file);
  const preprocess = preprocessOf(model.metadata, file);
  const g = model.graph;
  checkInferenceGraph(g, file);
  const { algorithm } = model.trainingInfo[0];
  const state = readTrainingState(m, file);
  const mutable = state.variables.filter((v) => v.name !== STEP_COUNTER).map(({ name, dims }) => ({ name, dims }));
  const params = state.variables.filter((v) => v.parameter).map(({ name, dims }) => ({ name, dims }));
  const optimizer = optimizerOf(model.metadata, mutable, file);
  const bound = state.variables.map((v): Value => ({ name: v.name, dtype: v.dtype, shape: v.dims }));
  const step = standaloneStep(bound)(algorithm);
  checkOpsKnown([...g.nodes, ...step.nodes], file);
  checkDropouts(step, file);
  checkOutputsComputed(step, "training step", file);

  return {
    name: model.metadata.get("alexc.model") ?? (g.name || "model"),
    rawShape: preprocess.raw,
    mutable,
    params,
    torchNames: torchNamesFromMetadata(m, file),
    optimizer,
    labelSmoothing: labelSmoothingOf(model.metadata, file),
    defaults: trainDefaultsOf(model.metadata, file),
    initial: () => state.values(),
    lowerings: ["dropout"],
    loweredStepGraph(kind) {
      if (kind !== "dropout") throw new ModelError(`${file}: the ${kind} lowering needs the model file (.ts), not a built .onnx`);
      const graph = ofFile(file, () => dropoutMasks(step));
      return { graph, masks: graph.masks };
    },
    stepGraph: (dropoutSeed) => seededDropouts(step, dropoutSeed),
    evalGraph: () => ofFile(file, () => inferenceEvalGraph(g, preprocess, params.map((p) => p.name), model.metadata.get("alexc.model") ?? g.name)),
    trainedModel: (tensors, stepCount) => encodeModel(withTrainingState(m, tensors, stepCount)),
  };
}

/**
 * A graph built from the file's nodes: a shape rule that fails there (a node with too few inputs,
 * an attribute value alexc never writes) fails because of the file, so the error names it (exit 2,
 * a bad model file). The rules' own "internal:" checks guard what alexc's tracing guarantees and
 * a file need not, so they count too; any other error is still a bug.
 */
function ofFile<T>(file: string, build: () => T): T {
  try {
    return build();
  } catch (e) {
    if (e instanceof ModelError && e.message.startsWith(file)) throw e;
    if (e instanceof AlexcError) throw new ModelError(`${file}: ${e.message}`);
    if (e instanceof Error && e.message.startsWith("internal: ")) throw new ModelError(`${file}: ${e.message.slice(10).split("\n")[0]}`);
    throw e;
  }
}

/** The passes rebuild nodes of the standard domain through alexc's op registry, so a built file may hold only ops it knows there. */
function checkOpsKnown(nodes: readonly Node[], file: string): void {
  const known = new Set(registeredOps());
  const unknown = nodes.find((n) => !n.domain && !known.has(n.op));
  if (unknown) throw new ModelError(`${file}: node '${unknown.name}' runs ${JSON.stringify(unknown.op)}, an op alexc does not train`);
}

/** The trainer feeds each training Dropout's mask (passes/dropout-masks.ts), which needs its input, its mask output and a constant ratio. */
function checkDropouts(step: Graph, file: string): void {
  const constants = new Set(step.initializers.map((t) => t.name));
  const bad = step.nodes.find((n) => n.op === "Dropout" && !n.domain && !(n.inputs[0] && n.outputs.length === 2 && n.inputs[1] && constants.has(n.inputs[1].name)));
  if (bad) throw new ModelError(`${file}: Dropout '${bad.name}' of the training step needs an input, a mask output and a constant ratio`);
}

/** Every output of a graph from the file is an input, an initialiser or some node's output: the passes carry outputs over by name. */
function checkOutputsComputed(g: Graph, what: string, file: string): void {
  const known = new Set([...g.inputs, ...g.initializers, ...g.nodes.flatMap((n) => n.outputs)].map((v) => v.name));
  const missing = g.outputs.find((o) => !known.has(o.name));
  if (missing) throw new ModelError(`${file}: the ${what}'s output '${missing.name}' is computed by none of its nodes`);
}

/** The inference graph the evaluation runs: one image input besides its parameters, and logits out. */
function checkInferenceGraph(g: Graph, file: string): void {
  const inits = new Set(g.initializers.map((t) => t.name));
  if (!g.inputs.some((v) => !inits.has(v.name))) throw new ModelError(`${file}: the inference graph has no image input`);
  if (g.outputs.length === 0) throw new ModelError(`${file}: the inference graph has no output`);
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
    const logits = b.value(g.outputs[0].name);
    if (!logits) throw new ModelError(`the inference graph's output '${g.outputs[0].name}' is computed by none of its nodes`);
    return b.output(logits);
  }).build();
}
