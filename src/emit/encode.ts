/**
 * IR → ONNX ModelProto bytes. Every intermediate value gets a value_info; attributes are
 * typed by the op's schema in the registry; tensors are stored as little-endian raw_data.
 * Encoding is a pure function of the IR, so equal graphs give byte-identical files.
 */
import type { Graph, Node } from "../graph/ir";
import type { AttrKind, AttrValue } from "../graph/op";
import { lookupOp } from "../graph/ops";
import { DTYPE_CODE, Shape, TensorData, Value } from "../graph/types";
import { IR_VERSION, onnx, OPSET, PRODUCER } from "./proto";
import { version as PRODUCER_VERSION } from "../../package.json";

const AT = onnx.AttributeProto.AttributeType;

export function tensorProto(t: TensorData): onnx.ITensorProto {
  const bytes = new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
  return { name: t.name, dims: [...t.dims], dataType: DTYPE_CODE[t.dtype], rawData: bytes, docString: t.doc };
}

export function typeProto(dtype: Value["dtype"], shape: Shape): onnx.ITypeProto {
  return {
    tensorType: {
      elemType: DTYPE_CODE[dtype],
      shape: { dim: shape.map((d) => (typeof d === "number" ? { dimValue: d } : { dimParam: d })) },
    },
  };
}

export function valueInfoProto(v: Value): onnx.IValueInfoProto {
  return { name: v.name, type: typeProto(v.dtype, v.shape) };
}

function attributeProto(name: string, kind: AttrKind, value: AttrValue): onnx.IAttributeProto {
  switch (kind) {
    case "int":
      return { name, type: AT.INT, i: value as number };
    case "ints":
      return { name, type: AT.INTS, ints: [...(value as number[])] };
    case "float":
      return { name, type: AT.FLOAT, f: value as number };
    case "floats":
      return { name, type: AT.FLOATS, floats: [...(value as number[])] };
    case "string":
      return { name, type: AT.STRING, s: new TextEncoder().encode(value as string) };
    case "tensor":
      return { name, type: AT.TENSOR, t: tensorProto(value as TensorData) };
    case "graph":
      return { name, type: AT.GRAPH, g: graphProto(value as Graph) };
  }
}

export function nodeProto(node: Node, docOf?: (n: Node) => string | undefined): onnx.INodeProto {
  const schema = node.attrKinds ?? lookupOp(node.op).attrs;
  const inputs = node.inputs.map((v) => v?.name ?? "");
  while (inputs.length > 0 && inputs[inputs.length - 1] === "") inputs.pop();
  return {
    name: node.name,
    opType: node.op,
    ...(node.domain ? { domain: node.domain } : {}),
    input: inputs,
    output: node.outputs.map((o) => o.name),
    attribute: Object.entries(node.attrs).map(([k, v]) => attributeProto(k, schema[k], v)),
    docString: docOf?.(node) ?? node.doc,
  };
}

export interface GraphProtoOptions {
  /** Values to describe in value_info (default: every node output that is not a graph output). */
  readonly values?: readonly Value[];
  readonly nodeDoc?: (n: Node) => string | undefined;
}

export function graphProto(g: Graph, opts: GraphProtoOptions = {}): onnx.IGraphProto {
  const outputs = new Set(g.outputs.map((o) => o.name));
  const produced = g.nodes.flatMap((n) => n.outputs).filter((v) => !outputs.has(v.name));
  return {
    name: g.name,
    docString: g.doc,
    node: g.nodes.map((n) => nodeProto(n, opts.nodeDoc)),
    initializer: g.initializers.map(tensorProto),
    input: g.inputs.map(valueInfoProto),
    output: g.outputs.map(valueInfoProto),
    valueInfo: (opts.values ?? produced).map(valueInfoProto),
  };
}

/** The custom operator sets a graph's nodes use, its subgraphs' included, in order of first use. */
export function customDomains(g: Graph): string[] {
  const found = new Set<string>();
  const visit = (graph: Graph) => {
    for (const n of graph.nodes) {
      if (n.domain) found.add(n.domain);
      for (const a of Object.values(n.attrs)) if (isGraph(a)) visit(a);
    }
  };
  visit(g);
  return [...found];
}

function isGraph(a: AttrValue): a is Graph {
  return typeof a === "object" && "nodes" in a;
}

export interface ModelProtoOptions {
  readonly doc?: string;
  /** Operator sets besides the default ONNX one (version 1 each), e.g. customDomains(graph). */
  readonly domains?: readonly string[];
  readonly metadata?: Readonly<Record<string, string>>;
  readonly trainingInfo?: onnx.ITrainingInfoProto[];
}

export function modelProto(graph: onnx.IGraphProto, opts: ModelProtoOptions = {}): onnx.IModelProto {
  return {
    irVersion: IR_VERSION,
    opsetImport: [{ domain: "", version: OPSET }, ...(opts.domains ?? []).map((domain) => ({ domain, version: 1 }))],
    producerName: PRODUCER,
    producerVersion: PRODUCER_VERSION,
    modelVersion: 1,
    docString: opts.doc,
    graph,
    metadataProps: Object.entries(opts.metadata ?? {}).map(([key, value]) => ({ key, value })),
    trainingInfo: opts.trainingInfo,
  };
}

export function encodeModel(model: onnx.IModelProto): Uint8Array {
  return onnx.ModelProto.encode(model).finish();
}
