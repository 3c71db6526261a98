/**
 * A float32 inference model → the same model computing in float16, for a file half the size.
 * Every float initialiser, Constant and value type becomes float16; the graph's float inputs
 * and outputs stay float32 behind a Cast at each boundary (as onnxconverter-common's
 * `keep_io_types`), so callers feed and read the same tensors as before. training_info is
 * dropped: the result is for inference only.
 */
import { ModelError } from "../graph/errors";
import { float32ToFloat16 } from "./float16";
import { onnx } from "./proto";
import { floatValues } from "./tensor-data";

const DT = onnx.TensorProto.DataType;
const AT = onnx.AttributeProto.AttributeType;

/** Ops whose float16 kernels (or onnxruntime's inserted casts) compute what the float32 op does. */
const CONVERTIBLE = new Set([
  "Conv", "ConvTranspose", "Gemm", "MatMul", "Relu", "Sigmoid", "Tanh", "Softmax", "LogSoftmax",
  "MaxPool", "AveragePool", "GlobalAveragePool", "BatchNormalization", "Flatten", "Reshape", "Transpose", "Concat",
  "Add", "Sub", "Mul", "Div", "Identity", "Dropout", "Constant", "Cast", "Resize", "Pad", "Slice",
]);

export function toFloat16(m: onnx.IModelProto, source: string): onnx.IModelProto {
  const g = m.graph;
  if (!g) throw new ModelError(`${source}: has no graph`);
  const bad = [...new Set((g.node ?? []).map((n) => n.opType ?? "").filter((op) => !CONVERTIBLE.has(op)))];
  if (bad.length) throw new ModelError(`${source}: cannot convert to float16: op${bad.length > 1 ? "s" : ""} ${bad.join(", ")} not supported`);

  const isFloat = (v: onnx.IValueInfoProto) => v.type?.tensorType?.elemType === DT.FLOAT;
  const half = (v: onnx.IValueInfoProto): onnx.IValueInfoProto =>
    isFloat(v) ? { ...v, type: { tensorType: { ...v.type!.tensorType, elemType: DT.FLOAT16 } } } : v;

  // Boundary renames: consumers of a float input read "<input>.f16"; the producer of a float output writes "<output>.f16".
  const inRename = new Map((g.input ?? []).filter(isFloat).map((v) => [v.name!, `${v.name}.f16`]));
  const outRename = new Map((g.output ?? []).filter(isFloat).map((v) => [v.name!, `${v.name}.f16`]));
  const cast = (from: string, to: string, elemType: number): onnx.INodeProto => ({
    name: `${to}/Cast`,
    opType: "Cast",
    input: [from],
    output: [to],
    attribute: [{ name: "to", type: AT.INT, i: elemType }],
  });

  const nodes: onnx.INodeProto[] = (g.node ?? []).map((n) => ({
    ...n,
    input: (n.input ?? []).map((x) => inRename.get(x) ?? x),
    output: (n.output ?? []).map((y) => outRename.get(y) ?? y),
    attribute: (n.attribute ?? []).map((a) => {
      if (n.opType === "Cast" && a.name === "to" && Number(a.i) === DT.FLOAT) return { ...a, i: DT.FLOAT16 };
      if (a.type === AT.TENSOR && a.t?.dataType === DT.FLOAT) return { ...a, t: halfTensor(a.t, source) };
      return a;
    }),
  }));
  return {
    ...m,
    trainingInfo: [],
    metadataProps: [...(m.metadataProps ?? []).filter((p) => p.key !== "alexc.dtype"), { key: "alexc.dtype", value: "float16" }],
    graph: {
      ...g,
      node: [
        ...[...inRename].map(([from, to]) => cast(from, to, DT.FLOAT16)),
        ...nodes,
        ...[...outRename].map(([to, from]) => cast(from, to, DT.FLOAT)),
      ],
      initializer: (g.initializer ?? []).map((t) => (t.dataType === DT.FLOAT ? halfTensor(t, source) : t)),
      valueInfo: [
        ...(g.input ?? []).filter(isFloat).map((v) => half({ ...v, name: inRename.get(v.name!) })),
        ...(g.valueInfo ?? []).map(half),
        ...(g.output ?? []).filter(isFloat).map((v) => half({ ...v, name: outRename.get(v.name!) })),
      ],
    },
  };
}

function halfTensor(t: onnx.ITensorProto, source: string): onnx.ITensorProto {
  const values = floatValues(t, source);
  const raw = Buffer.alloc(2 * values.length);
  for (let i = 0; i < values.length; i++) raw.writeUInt16LE(float32ToFloat16(values[i]), 2 * i);
  return { name: t.name, dims: t.dims, docString: t.docString, dataType: DT.FLOAT16, rawData: raw };
}
