/**
 * A TrainingProgram read from a built .onnx, imported into the IR once (src/emit/import.ts): the
 * algorithm in ModelProto.training_info is the step (passes/standalone-step.ts: its bound
 * initialisers become inputs, per the step contract), the inference graph behind the preprocessing
 * recorded in the metadata is the evaluation graph (eval-graph.ts, as for a model file), and the
 * trained model is the same file with new initialiser values.
 */
import type { Preprocess, TrainDefaults } from "../graph/dsl";
import { ModelError } from "../graph/errors";
import type { Graph } from "../graph/ir";
import { makeTensor, type Value } from "../graph/types";
import { encodeModel, tensorProto } from "../emit/encode";
import { importModel } from "../emit/import";
import type { onnx } from "../emit/proto";
import { floatValues } from "../emit/tensor-data";
import { torchNamesFromMetadata } from "../emit/state-dict";
import { dropoutMasks } from "../passes/dropout-masks";
import { standaloneStep } from "../passes/standalone-step";
import { evalGraph } from "./eval-graph";
import type { TrainingProgram } from "./program";
import { next, STEP_COUNTER } from "./step";

function int64Scalar(t: onnx.ITensorProto): number {
  if (t.rawData && t.rawData.length === 8) return Number(Buffer.from(t.rawData).readBigInt64LE(0));
  return Number(t.int64Data?.[0] ?? 0);
}

export function programFromOnnx(m: onnx.ModelProto, file: string): TrainingProgram {
  const ti = m.trainingInfo[0] as onnx.TrainingInfoProto | undefined;
  if (!ti?.algorithm) throw new ModelError(`${file}: has no training_info; build it with \`alexc build\` (without --no-training)`);
  const model = importModel(m, file);
  const prepText = model.metadata.get("alexc.preprocess");
  if (!prepText) throw new ModelError(`${file}: no alexc.preprocess metadata: cannot tell how raw images enter the model`);
  const prep = JSON.parse(prepText) as { raw: { shape: [string, number, number, number] }; resize: { size: [number, number] } | null };
  const preprocess: Preprocess = { raw: [prep.raw.shape[1], prep.raw.shape[2], prep.raw.shape[3]], resize: prep.resize?.size[0] };
  const g = model.graph;
  const { algorithm, updateBinding: bound } = model.trainingInfo[0];
  const mg = m.graph as onnx.GraphProto;
  const mainInits = new Map(mg.initializer.map((t) => [t.name!, t]));
  const algInits = new Map((ti.algorithm.initializer ?? []).map((t) => [t.name!, t]));
  const tensorOf = (name: string) => mainInits.get(name) ?? algInits.get(name);
  for (const [key, value] of bound) {
    if (!tensorOf(key)) throw new ModelError(`${file}: update_binding names '${key}', which is no initialiser`);
    if (value !== next(key)) throw new ModelError(`${file}: update_binding ${key} → ${value} does not follow alexc's step contract (${next(key)})`);
  }
  if (!bound.has(STEP_COUNTER)) throw new ModelError(`${file}: training_info has no '${STEP_COUNTER}' counter`);
  const mutable = [...bound.keys()]
    .filter((k) => k !== STEP_COUNTER)
    .map((name) => ({ name, dims: (tensorOf(name)!.dims ?? []).map(Number) }));
  const params = mutable.filter((t) => mainInits.has(t.name));
  const optimizer = mutable.some((t) => t.name.endsWith(".adam_m")) ? "adam" : "sgd";
  const initializers = new Map([...g.initializers, ...algorithm.initializers].map((t) => [t.name, t]));
  const valueOf = (name: string): Value => {
    const t = initializers.get(name)!;
    return { name, dtype: t.dtype, shape: t.dims };
  };
  const step = standaloneStep([...bound.keys()].map(valueOf))(algorithm);

  return {
    name: model.metadata.get("alexc.model") ?? (g.name || "model"),
    rawShape: preprocess.raw,
    mutable,
    params,
    torchNames: torchNamesFromMetadata(m, file),
    optimizer,
    defaults: JSON.parse(model.metadata.get("alexc.train_defaults") ?? "{}") as TrainDefaults,
    initial() {
      const tensors = new Map(mutable.map((t) => [t.name, floatValues(tensorOf(t.name)!, file)]));
      return { tensors, step: int64Scalar(tensorOf(STEP_COUNTER)!) };
    },
    lowerings: ["dropout"],
    loweredStepGraph(kind) {
      if (kind !== "dropout") throw new ModelError(`${file}: the ${kind} lowering needs the model file (.ts), not a built .onnx`);
      const graph = dropoutMasks(step);
      return { graph, masks: graph.masks };
    },
    stepGraph: (dropoutSeed) => seededDropouts(step, dropoutSeed),
    evalGraph: () => inferenceEvalGraph(g, preprocess, params.map((p) => p.name), model.metadata.get("alexc.model") ?? g.name),
    trainedModel(tensors, stepCount) {
      const replace = (t: onnx.ITensorProto): onnx.ITensorProto => {
        if (t.name === STEP_COUNTER && bound.has(STEP_COUNTER)) return tensorProto(makeTensor(STEP_COUNTER, "int64", [], [stepCount]));
        const v = bound.has(t.name!) ? tensors.get(t.name!) : undefined;
        return v ? { ...t, rawData: new Uint8Array(v.buffer, v.byteOffset, v.byteLength), floatData: [] } : t;
      };
      const alg = ti.algorithm!;
      return encodeModel({
        ...m,
        graph: { ...mg, initializer: mg.initializer.map(replace) },
        trainingInfo: [{ ...ti, algorithm: { ...alg, initializer: (alg.initializer ?? []).map(replace) } }, ...m.trainingInfo.slice(1)],
      });
    },
  };
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
