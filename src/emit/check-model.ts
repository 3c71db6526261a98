/**
 * A decoded ONNX file checked before any reader uses it. Its names (nodes, values, dims, tensors, ops)
 * are text without control characters, so that a message quoting one stays one line. Its tensors
 * are checked against the file before anything is allocated for them: every dim a non-negative safe integer, raw data exactly as long as the dims and element
 * type say, and a sparse tensor (whose dense size the file does not pay for) no larger than
 * SPARSE_FACTOR times the file. alexc writes sparse tensors only for a fresh build's zero
 * optimizer state, which is at most twice the parameters the file holds.
 */
import { ModelError } from "../graph/errors";
import { onnx } from "./proto";

const DT = onnx.TensorProto.DataType;
const ELEMENT_BYTES: Partial<Record<number, number>> = {
  [DT.FLOAT]: 4, [DT.UINT8]: 1, [DT.INT8]: 1, [DT.UINT16]: 2, [DT.INT16]: 2, [DT.INT32]: 4, [DT.INT64]: 8,
  [DT.BOOL]: 1, [DT.FLOAT16]: 2, [DT.DOUBLE]: 8, [DT.UINT32]: 4, [DT.UINT64]: 8, [DT.BFLOAT16]: 2,
};
export const SPARSE_FACTOR = 4;

/** The element count of `dims`, or a ModelError where a dim is negative, fractional or the count unsafe. */
export function elementCount(dims: readonly unknown[] | null | undefined, what: string): number {
  let n = 1;
  for (const d of (dims ?? []).map(Number)) {
    if (!Number.isSafeInteger(d) || d < 0) throw new ModelError(`${what} has dim ${d}; dims are non-negative integers`);
    n *= d;
  }
  if (!Number.isSafeInteger(n)) throw new ModelError(`${what} has dims [${(dims ?? []).map(Number).join(", ")}], too many elements`);
  return n;
}

/** The typed field a tensor of each element type keeps its values in when not raw (onnx.proto's TensorProto). */
function typedField(t: onnx.ITensorProto): ArrayLike<unknown> | null | undefined {
  switch (t.dataType) {
    case DT.FLOAT:
      return t.floatData;
    case DT.DOUBLE:
      return t.doubleData;
    case DT.INT64:
      return t.int64Data;
    case DT.UINT32:
    case DT.UINT64:
      return t.uint64Data;
    case DT.STRING:
      return t.stringData;
    default:
      return t.int32Data;
  }
}

/** A dense tensor's values are in the file, as many as its dims say (or, for external data, in another file alexc does not read). */
function checkDense(t: onnx.ITensorProto, where: string): void {
  checkName(t.name, where);
  const what = `${where}: tensor '${t.name ?? ""}'`;
  const n = elementCount(t.dims, what);
  if (t.dataLocation === onnx.TensorProto.DataLocation.EXTERNAL) return;
  const size = ELEMENT_BYTES[t.dataType ?? 0];
  if (t.rawData && t.rawData.length > 0) {
    if (size !== undefined && t.rawData.length !== n * size) throw new ModelError(`${what} holds ${t.rawData.length} bytes of raw data for ${n} elements of ${size} bytes`);
  } else if ((typedField(t)?.length ?? 0) !== n && size !== undefined) {
    throw new ModelError(`${what} holds ${typedField(t)?.length ?? 0} values for its ${n} elements`);
  }
}

function checkSparse(s: onnx.ISparseTensorProto, where: string, budget: number): void {
  const what = `${where}: sparse tensor '${s.values?.name ?? ""}'`;
  const n = elementCount(s.dims, what);
  if (s.values) checkDense(s.values, where);
  if (s.indices) checkDense(s.indices, where);
  if (n * 4 > budget) throw new ModelError(`${what} declares ${n} elements, more than a file of this size can use (${budget} bytes dense)`);
}

const CONTROL = /[\x00-\x1f\x7f]/;

function checkNames(g: onnx.IGraphProto, where: string): void {
  const infos = [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])];
  const values = [...infos.map((v) => v.name), ...infos.flatMap((v) => (v.type?.tensorType?.shape?.dim ?? []).map((d) => d.dimParam))];
  const tensors = [...(g.initializer ?? []), ...(g.sparseInitializer ?? []).map((s) => s.values ?? {})].map((t) => t.name);
  const nodes = (g.node ?? []).flatMap((n) => [n.name, n.opType, n.domain, ...(n.input ?? []), ...(n.output ?? []), ...(n.attribute ?? []).map((a) => a.name)]);
  for (const name of [...values, ...tensors, ...nodes]) checkName(name, where);
}

function checkName(name: string | null | undefined, where: string): void {
  if (name && CONTROL.test(name)) throw new ModelError(`${where}: the name ${JSON.stringify(name)} holds control characters`);
}

function checkGraph(g: onnx.IGraphProto, where: string, budget: number): void {
  checkNames(g, where);
  for (const t of g.initializer ?? []) checkDense(t, where);
  for (const s of g.sparseInitializer ?? []) checkSparse(s, where, budget);
  for (const n of g.node ?? []) {
    for (const a of n.attribute ?? []) {
      const at = `${where}: node '${n.name ?? ""}' attribute '${a.name ?? ""}'`;
      for (const t of [...(a.t ? [a.t] : []), ...(a.tensors ?? [])]) checkDense(t, at);
      for (const s of [...(a.sparseTensor ? [a.sparseTensor] : []), ...(a.sparseTensors ?? [])]) checkSparse(s, at, budget);
      for (const sub of [...(a.g ? [a.g] : []), ...(a.graphs ?? [])]) checkGraph(sub, at, budget);
    }
  }
}

/** Checks the names and tensors of `m`, a file of `fileBytes` bytes; throws a ModelError naming `source` and what is wrong. */
export function checkModel(m: onnx.IModelProto, source: string, fileBytes: number): void {
  const budget = SPARSE_FACTOR * fileBytes + (1 << 20);
  const bindings = (m.trainingInfo ?? []).flatMap((ti) => [...(ti.updateBinding ?? []), ...(ti.initializationBinding ?? [])]);
  for (const name of [...bindings.flatMap((b) => [b.key, b.value]), ...(m.metadataProps ?? []).map((p) => p.key)]) checkName(name, source);
  if (m.graph) checkGraph(m.graph, source, budget);
  for (const [i, ti] of (m.trainingInfo ?? []).entries()) {
    if (ti.algorithm) checkGraph(ti.algorithm, `${source} training_info[${i}].algorithm`, budget);
    if (ti.initialization) checkGraph(ti.initialization, `${source} training_info[${i}].initialization`, budget);
  }
}
