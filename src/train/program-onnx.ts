/**
 * A TrainingProgram read from a built .onnx: the algorithm in ModelProto.training_info is
 * the step (its bound initialisers become inputs, per the step contract), the inference
 * graph behind the preprocessing recorded in the metadata is the evaluation model, and the
 * trained model is the same file with new initialiser values.
 */
import type { Preprocess, TrainDefaults } from "../graph/dsl";
import { ModelError } from "../graph/errors";
import { DTYPE_CODE, makeTensor } from "../graph/types";
import { encodeModel, tensorProto, typeProto } from "../emit/encode";
import { onnx } from "../emit/proto";
import { floatValues } from "../emit/tensor-data";
import { metadataValue } from "../emit/decode";
import { torchNamesFromMetadata } from "../emit/state-dict";
import type { TrainingProgram } from "./program";
import type { MaskInput } from "./lower-webgpu";
import { STEP_COUNTER } from "./step";
import { readTrainingState, withTrainingState } from "./training-state";

const AT = onnx.AttributeProto.AttributeType;

export function programFromOnnx(m: onnx.ModelProto, file: string): TrainingProgram {
  const ti = m.trainingInfo[0] as onnx.TrainingInfoProto | undefined;
  if (!ti?.algorithm) throw new ModelError(`${file}: has no training_info; build it with \`alexc build\` (without --no-training)`);
  const prepText = metadataValue(m, "alexc.preprocess");
  if (!prepText) throw new ModelError(`${file}: no alexc.preprocess metadata: cannot tell how raw images enter the model`);
  const prep = JSON.parse(prepText) as { raw: { shape: [string, number, number, number] }; resize: { size: [number, number] } | null };
  const preprocess: Preprocess = { raw: [prep.raw.shape[1], prep.raw.shape[2], prep.raw.shape[3]], resize: prep.resize?.size[0] };
  const g = m.graph as onnx.GraphProto;
  const alg = ti.algorithm;
  const state = readTrainingState(m, file);
  const bound = state.updates;
  const mainInits = new Map(g.initializer.map((t) => [t.name!, t]));
  const mutable = state.variables.filter((v) => v.name !== STEP_COUNTER).map(({ name, dims }) => ({ name, dims }));
  const params = state.variables.filter((v) => v.parameter).map(({ name, dims }) => ({ name, dims }));
  const optimizer = mutable.some((t) => t.name.endsWith(".adam_m")) ? "adam" : "sgd";
  const declared = new Map(state.variables.map((v) => [v.name, v]));
  const inputOf = (name: string): onnx.IValueInfoProto => {
    const v = declared.get(name)!;
    return { name, type: typeProto(v.dtype, v.dims) };
  };
  const graphModel = (graph: onnx.IGraphProto) =>
    encodeModel({ irVersion: m.irVersion, opsetImport: m.opsetImport, producerName: m.producerName, producerVersion: m.producerVersion, graph });

  // The algorithm as a standalone step (docs/training-graph.md): bound initialisers become inputs.
  const stepGraph: onnx.IGraphProto = {
    ...alg,
    input: [...(alg.input ?? []), ...[...bound.keys()].map(inputOf)],
    initializer: (alg.initializer ?? []).filter((t) => !bound.has(t.name!)),
    sparseInitializer: (alg.sparseInitializer ?? []).filter((t) => !bound.has(t.values?.name ?? "")),
  };

  return {
    name: metadataValue(m, "alexc.model") ?? g.name ?? "model",
    rawShape: preprocess.raw,
    mutable,
    params,
    torchNames: torchNamesFromMetadata(m, file),
    optimizer,
    defaults: JSON.parse(metadataValue(m, "alexc.train_defaults") ?? "{}") as TrainDefaults,
    initial: () => state.values(),
    lowerings: ["dropout"],
    loweredStepModel(kind) {
      if (kind !== "dropout") throw new ModelError(`${file}: the ${kind} lowering needs the model file (.ts), not a built .onnx`);
      const { graph, masks } = dropoutAsMaskInputs(stepGraph);
      return { bytes: graphModel(graph), masks };
    },
    stepModel(dropoutSeed) {
      const node = (stepGraph.node ?? []).map((n, i) =>
        n.opType === "Dropout"
          ? { ...n, attribute: [...(n.attribute ?? []).filter((a) => a.name !== "seed"), { name: "seed", type: AT.INT, i: (dropoutSeed + i) % 2147483647 }] }
          : n,
      );
      return graphModel({ ...stepGraph, node });
    },
    evalModel() {
      const input = g.input.find((i) => !mainInits.has(i.name!))!;
      const c = (name: string, t: ReturnType<typeof makeTensor>) => tensorProto({ ...t, name });
      const pre: onnx.INodeProto[] = [
        { name: "eval/Cast", opType: "Cast", input: ["images"], output: ["eval/float"], attribute: [{ name: "to", type: AT.INT, i: DTYPE_CODE.float32 }] },
        { name: "eval/Div", opType: "Div", input: ["eval/float", "eval/255"], output: [preprocess.resize ? "eval/scaled" : input.name!] },
      ];
      const consts = [c("eval/255", makeTensor("", "float32", [], [255]))];
      if (preprocess.resize) {
        const [, h, w] = preprocess.raw;
        consts.push(c("eval/scales", makeTensor("", "float32", [4], [1, 1, preprocess.resize / h, preprocess.resize / w])));
        pre.push({
          name: "eval/Resize",
          opType: "Resize",
          input: ["eval/scaled", "", "eval/scales"],
          output: [input.name!],
          attribute: [
            { name: "mode", type: AT.STRING, s: Buffer.from("linear") },
            { name: "coordinate_transformation_mode", type: AT.STRING, s: Buffer.from("half_pixel") },
          ],
        });
      }
      const logits = g.output[0].name!;
      const metrics: onnx.INodeProto[] = [
        { name: "eval/ArgMax", opType: "ArgMax", input: [logits], output: ["eval/pred"], attribute: [{ name: "axis", type: AT.INT, i: 1 }, { name: "keepdims", type: AT.INT, i: 0 }] },
        { name: "eval/Equal", opType: "Equal", input: ["eval/pred", "labels"], output: ["eval/hit"] },
        { name: "eval/CastHit", opType: "Cast", input: ["eval/hit"], output: ["eval/hits"], attribute: [{ name: "to", type: AT.INT, i: DTYPE_CODE.int64 }] },
        { name: "eval/ReduceSum", opType: "ReduceSum", input: ["eval/hits"], output: ["correct"], attribute: [{ name: "keepdims", type: AT.INT, i: 0 }] },
      ];
      return graphModel({
        name: `${g.name}_eval`,
        node: [...pre, ...g.node, ...metrics],
        input: [
          { name: "images", type: typeProto("uint8", ["N", ...preprocess.raw]) },
          { name: "labels", type: typeProto("int64", ["N"]) },
          ...params.map((p) => inputOf(p.name)),
        ],
        initializer: [...consts, ...g.initializer.filter((t) => !bound.has(t.name!))],
        output: [g.output[0], { name: "correct", type: typeProto("int64", []) }],
        // Shapes of the intermediates (the model's input now among them), e.g. for lower-cpu.ts.
        valueInfo: [input, ...(g.valueInfo ?? [])],
      });
    },
    trainedModel: (tensors, step) => encodeModel(withTrainingState(m, tensors, step)),
  };
}

/**
 * Each training-mode Dropout of a step graph → x · mask / (1 − p) with `mask` a bool graph input
 * `<node>/mask` (shape from the graph's value_info), as lower-webgpu.ts does on alexc's IR: the
 * trainer draws the masks, so resuming mid-epoch replays them exactly.
 */
function dropoutAsMaskInputs(graph: onnx.IGraphProto): { graph: onnx.IGraphProto; masks: MaskInput[] } {
  const shapes = new Map([...(graph.input ?? []), ...(graph.valueInfo ?? [])].map((v) => [v.name!, v.type?.tensorType?.shape?.dim ?? undefined]));
  const inits = new Map((graph.initializer ?? []).map((t) => [t.name!, t]));
  const masks: MaskInput[] = [];
  const inputs: onnx.IValueInfoProto[] = [];
  const consts: onnx.ITensorProto[] = [];
  const nodes: onnx.INodeProto[] = [];
  for (const n of graph.node ?? []) {
    if (n.opType !== "Dropout" || (n.output ?? []).length < 2) {
      nodes.push(n);
      continue;
    }
    const [x, ratio] = n.input ?? [];
    const p = ratio ? floatValues(inits.get(ratio) ?? fail(`Dropout '${n.name}' ratio '${ratio}' is no initialiser`), "step")[0] : 0.5;
    const dims = shapes.get(x!) ?? fail(`no shape for Dropout input '${x}'`);
    const shape = dims.map((d) => (d.dimParam ? d.dimParam : Number(d.dimValue)));
    const mask = `${n.name}/mask`;
    masks.push({ name: mask, shape, p });
    inputs.push({ name: mask, type: typeProto("bool", shape) });
    consts.push(tensorProto(makeTensor(`${n.name}/keep_scale`, "float32", [], [1 / (1 - p)])));
    nodes.push(
      { name: `${n.name}/mask/Cast`, opType: "Cast", input: [mask], output: [`${mask}:float`], attribute: [{ name: "to", type: AT.INT, i: DTYPE_CODE.float32 }] },
      { name: `${n.name}/mask/Mul`, opType: "Mul", input: [`${mask}:float`, `${n.name}/keep_scale`], output: [`${mask}:scaled`] },
      { name: `${n.name}/Mul`, opType: "Mul", input: [x!, `${mask}:scaled`], output: [n.output![0]] },
      { name: `${n.name}/mask/Identity`, opType: "Identity", input: [mask], output: [n.output![1]] },
    );
  }
  return { graph: { ...graph, node: nodes, input: [...(graph.input ?? []), ...inputs], initializer: [...(graph.initializer ?? []), ...consts] }, masks };
}

function fail(why: string): never {
  throw new ModelError(`step graph: ${why}`);
}
