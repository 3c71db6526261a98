/**
 * ONNX → IR: a GraphProto or ModelProto read back into alexc's Graph, so that a built .onnx goes
 * through the same passes as a model file. Value types come from the graph's inputs, outputs,
 * value_info and initializers (a registered op's shape rule fills in an intermediate the file does
 * not describe); nodes keep their domain and the attribute kinds the file declares, so ops outside
 * alexc's registry (onnxruntime's com.microsoft.nchwc kernels) pass through unchanged; a Loop's or
 * If's body becomes an IR Graph that reads the enclosing graph's values by name.
 */
import { AlexcError, ModelError } from "../graph/errors";
import type { Graph, Node } from "../graph/ir";
import { AttrKind, AttrValue, RuleContext } from "../graph/op";
import { lookupOp, registeredOps } from "../graph/ops";
import { DType, dtypeFromCode, TensorData, TensorType, Value } from "../graph/types";
import { onnx } from "./proto";
import { sparseFloatValues } from "./tensor-data";

const AT = onnx.AttributeProto.AttributeType;
const REGISTERED = new Set(registeredOps());

export interface ImportedTrainingInfo {
  /** The training step as the file stores it: it reads the main graph's initialisers by name. */
  readonly algorithm: Graph;
  /** initialiser name → the algorithm output that replaces it after a step. */
  readonly updateBinding: ReadonlyMap<string, string>;
  readonly initialization?: Graph;
  readonly initializationBinding: ReadonlyMap<string, string>;
}

export interface ImportedModel {
  readonly graph: Graph;
  readonly trainingInfo: readonly ImportedTrainingInfo[];
  readonly metadata: ReadonlyMap<string, string>;
}

export function importModel(m: onnx.IModelProto, source = "model"): ImportedModel {
  if (!m.graph) throw new ModelError(`${source}: no graph`);
  const graph = importGraph(m.graph, new Map(), source);
  // The algorithm and initialization read the main graph's inputs and initialisers.
  const outer = new Map<string, Value>(graph.inputs.map((v) => [v.name, v]));
  for (const t of graph.initializers) outer.set(t.name, { name: t.name, dtype: t.dtype, shape: t.dims });
  const bindings = (kv: onnx.IStringStringEntryProto[] | null | undefined) => new Map((kv ?? []).map((b) => [b.key ?? "", b.value ?? ""]));
  const trainingInfo = (m.trainingInfo ?? []).map((ti, i) => {
    if (!ti.algorithm) throw new ModelError(`${source}: training_info[${i}] has no algorithm`);
    return {
      algorithm: importGraph(ti.algorithm, outer, `${source} training_info[${i}].algorithm`),
      updateBinding: bindings(ti.updateBinding),
      initialization: ti.initialization?.node?.length ? importGraph(ti.initialization, outer, `${source} training_info[${i}].initialization`) : undefined,
      initializationBinding: bindings(ti.initializationBinding),
    };
  });
  const metadata = new Map((m.metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""]));
  return { graph, trainingInfo, metadata };
}

/** A GraphProto as an IR Graph; `outer` holds the values of enclosing graphs its nodes may read. */
export function importGraph(g: onnx.IGraphProto, outer: ReadonlyMap<string, Value> = new Map(), source = "graph"): Graph {
  const declared = new Map<string, TensorType>();
  for (const v of [...(g.input ?? []), ...(g.output ?? []), ...(g.valueInfo ?? [])]) {
    const t = typeOf(v);
    if (t) declared.set(v.name ?? "", t);
  }
  // Sparse initializers (a fresh build's optimizer state: zeros, no entries) join the dense ones, made dense.
  const initializers = [...(g.initializer ?? []).map((t) => tensorData(t, source)), ...(g.sparseInitializer ?? []).map((s) => sparseTensorData(s, source))];
  const scope = new Map(outer);
  for (const t of initializers) scope.set(t.name, { name: t.name, dtype: t.dtype, shape: t.dims });
  const inputs = (g.input ?? []).map((v) => {
    const value = scope.get(v.name ?? "") ?? valueOf(v.name ?? "", declared, `${source}: input`);
    scope.set(value.name, value);
    return value;
  });
  const nodes = (g.node ?? []).map((n) => {
    const node = importNode(n, scope, declared, source);
    for (const o of node.outputs) scope.set(o.name, o);
    return node;
  });
  const outputs = (g.output ?? []).map((v) => scope.get(v.name ?? "") ?? valueOf(v.name ?? "", declared, `${source}: output`));
  return { name: g.name ?? "", doc: g.docString || undefined, inputs, outputs, initializers, nodes };
}

function importNode(n: onnx.INodeProto, scope: ReadonlyMap<string, Value>, declared: ReadonlyMap<string, TensorType>, source: string): Node {
  const name = n.name ?? "";
  const op = n.opType ?? "";
  const where = `${source}: node '${name}' (${op})`;
  const inputs = (n.input ?? []).map((i) => (i ? (scope.get(i) ?? valueOf(i, declared, `${where}: input`)) : undefined));
  const attrs: Record<string, AttrValue> = {};
  const attrKinds: Record<string, AttrKind> = {};
  const schema = !n.domain && REGISTERED.has(op) ? lookupOp(op).attrs : undefined;
  for (const a of n.attribute ?? []) {
    const [kind, value] = attribute(a, scope, `${where}: attribute '${a.name}'`);
    // A registered op's attributes are the ones its rules read, of the kinds they expect.
    if (schema && schema[a.name ?? ""] !== kind) throw new ModelError(`${where}: attribute '${a.name}' (${kind}) is not one of ${op}'s (${Object.entries(schema).map(([k, v]) => `${k}: ${v}`).join(", ")})`);
    attrs[a.name ?? ""] = value;
    attrKinds[a.name ?? ""] = kind;
  }
  const names = n.output ?? [];
  let inferred: TensorType[] | undefined;
  const outputType = (o: string, i: number): TensorType => {
    const t = declared.get(o);
    if (t) return t;
    // An intermediate the file does not describe: a registered op's shape rule knows its type.
    if (n.domain || !REGISTERED.has(op)) throw new ModelError(`${where}: output '${o}' has no declared type, and '${op}' is not an op alexc knows`);
    inferred ??= inferImported(where, () => lookupOp(op).infer(inputs, attrs, new RuleContext(op, name, undefined, []), names.length));
    if (!inferred[i]) throw new ModelError(`${where}: has ${names.length} outputs, the op gives ${inferred.length}`);
    return inferred[i];
  };
  const outputs = names.map((o, i) => ({ name: o, ...outputType(o, i) }));
  return { name, op, ...(n.domain ? { domain: n.domain } : {}), attrKinds, inputs, outputs, attrs, ...(n.docString ? { doc: n.docString } : {}) };
}

/**
 * A shape rule run on a file's node: the rules were written for graphs alexc traced, so a node
 * they do not fit (too few inputs, an attribute of another kind) is the file's fault, reported as
 * such with the node, whatever the rule threw.
 */
function inferImported(where: string, infer: () => TensorType[]): TensorType[] {
  try {
    return infer();
  } catch (e) {
    const why = e instanceof AlexcError ? e.message.replace(/^shape error in \S+ '[^']*': /, "") : "its inputs or attributes do not fit the op";
    throw new ModelError(`${where}: ${why}`);
  }
}

function attribute(a: onnx.IAttributeProto, scope: ReadonlyMap<string, Value>, where: string): [AttrKind, AttrValue] {
  switch (a.type) {
    case AT.INT:
      return ["int", Number(a.i ?? 0)];
    case AT.INTS:
      return ["ints", (a.ints ?? []).map(Number)];
    case AT.FLOAT:
      return ["float", a.f ?? 0];
    case AT.FLOATS:
      return ["floats", [...(a.floats ?? [])]];
    case AT.STRING:
      return ["string", new TextDecoder().decode(a.s ?? new Uint8Array())];
    case AT.TENSOR:
      return ["tensor", tensorData(a.t ?? {}, where)];
    case AT.GRAPH:
      return ["graph", importGraph(a.g ?? {}, scope, where)];
    default:
      throw new ModelError(`${where}: attribute type ${a.type} is not supported`);
  }
}

function valueOf(name: string, declared: ReadonlyMap<string, TensorType>, where: string): Value {
  const t = declared.get(name);
  if (!t) throw new ModelError(`${where} '${name}' is neither defined before its use nor described by a tensor type`);
  return { name, ...t };
}

function typeOf(v: onnx.IValueInfoProto): TensorType | undefined {
  const t = v.type?.tensorType;
  const dtype = t?.elemType ? dtypeFromCode(t.elemType) : undefined;
  if (!dtype || !t?.shape) return undefined;
  // An unknown dim gets a symbol of its own, so that it equals no other.
  const shape = (t.shape.dim ?? []).map((d, i) => (d.dimParam ? d.dimParam : d.dimValue !== undefined && d.dimValue !== null ? Number(d.dimValue) : `${v.name}?${i}`));
  return { dtype, shape };
}

const BYTES: Record<DType, number> = { float32: 4, float64: 8, int64: 8, int32: 4, uint8: 1, bool: 1 };
const ARRAYS = { float32: Float32Array, float64: Float64Array, int64: BigInt64Array, int32: Int32Array, uint8: Uint8Array, bool: Uint8Array };

/** A TensorProto's values in the typed array of its dtype (raw_data or the typed fields). */
/** A float32 sparse initializer as a dense tensor. */
function sparseTensorData(s: onnx.ISparseTensorProto, where: string): TensorData {
  return { name: s.values?.name ?? "", dtype: "float32", dims: (s.dims ?? []).map(Number), data: sparseFloatValues(s, where) };
}

export function tensorData(t: onnx.ITensorProto, where: string): TensorData {
  const name = t.name ?? "";
  const dtype = dtypeFromCode(t.dataType ?? 0);
  if (!dtype) throw new ModelError(`${where}: tensor '${name}' has data type ${t.dataType}, which alexc does not import`);
  const dims = (t.dims ?? []).map(Number);
  const count = dims.reduce((a, d) => a * d, 1);
  const Array_ = ARRAYS[dtype];
  let data: TensorData["data"];
  if (t.rawData && t.rawData.length > 0) {
    if (t.rawData.length !== count * BYTES[dtype]) throw new ModelError(`${where}: tensor '${name}' holds ${t.rawData.length} bytes for ${count} ${dtype} elements`);
    const raw = t.rawData;
    // Views into the file's bytes where they are aligned for the element type; a copy otherwise
    // (new Uint8Array copies; a Node Buffer's slice() would not).
    data = raw.byteOffset % BYTES[dtype] === 0 ? new Array_(raw.buffer as ArrayBuffer, raw.byteOffset, count) : new Array_(new Uint8Array(raw).buffer, 0, count);
  } else {
    const typed =
      dtype === "float32" ? t.floatData : dtype === "float64" ? t.doubleData : dtype === "int64" ? (t.int64Data ?? []).map((x) => BigInt(x.toString())) : t.int32Data;
    if ((typed?.length ?? 0) !== count) throw new ModelError(`${where}: tensor '${name}' holds no data for its ${count} elements`);
    data = (Array_ as unknown as { from(x: ArrayLike<number | bigint>): TensorData["data"] }).from(typed as ArrayLike<number | bigint>);
  }
  return { name, dtype, dims, data, ...(t.docString ? { doc: t.docString } : {}) };
}
