/**
 * A Keras-summary-style table of a decoded ONNX model: one row per node with its output
 * shape and the parameters (initialisers) it reads, totals, IR and opsets.
 */
import { onnx } from "./proto";

export interface SummaryRow {
  name: string;
  op: string;
  output: string;
  params: number;
}

export interface Summary {
  rows: SummaryRow[];
  totalParams: number;
  irVersion: number;
  opsets: string[];
  producer: string;
  inputs: string[];
  outputs: string[];
  training: string | undefined;
}

function shapeText(t: onnx.ITypeProto | null | undefined): string {
  const tt = t?.tensorType;
  if (!tt) return "?";
  const dims = tt.shape?.dim?.map((d) => (d.dimParam ? d.dimParam : d.dimValue != null ? String(Number(d.dimValue)) : "?"));
  return dims ? `[${dims.join(",")}]` : "?";
}

function tensorSize(t: onnx.ITensorProto): number {
  return (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
}

/** float32, float16, float64: the element types of trainable parameters. */
const FLOAT_TYPES = new Set<number>([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16, onnx.TensorProto.DataType.DOUBLE]);
/** Inputs that hold model state rather than parameters (BatchNorm's running statistics), left out of the count as torchinfo does. */
const BUFFER_INPUTS: Readonly<Record<string, readonly number[]>> = { BatchNormalization: [3, 4] };

export function summarize(m: onnx.ModelProto): Summary {
  const g = m.graph as onnx.GraphProto;
  const types = new Map<string, string>();
  for (const v of [...g.input, ...g.valueInfo, ...g.output]) types.set(v.name!, shapeText(v.type));
  const inits = new Map(g.initializer.map((t) => [t.name!, t]));
  for (const t of g.initializer) types.set(t.name!, `[${(t.dims ?? []).map(Number).join(",")}]`);
  const counted = new Set<string>();
  const rows = (g.node as onnx.NodeProto[]).map((n) => {
    let params = 0;
    for (const [k, i] of n.input.entries()) {
      const t = inits.get(i);
      if (BUFFER_INPUTS[n.opType ?? ""]?.includes(k)) continue;
      if (t && !counted.has(i) && FLOAT_TYPES.has(t.dataType ?? 0) && tensorSize(t) > 1) {
        counted.add(i);
        params += tensorSize(t);
      }
    }
    return { name: n.name || n.output[0] || "(unnamed)", op: n.opType ?? "", output: types.get(n.output[0]) ?? "?", params };
  });
  const ti = m.trainingInfo[0] as onnx.TrainingInfoProto | undefined;
  return {
    rows,
    totalParams: rows.reduce((a, r) => a + r.params, 0),
    irVersion: Number(m.irVersion),
    opsets: m.opsetImport.map((o) => `${o.domain || "ai.onnx"} ${Number(o.version)}`),
    producer: `${m.producerName ?? ""} ${m.producerVersion ?? ""}`.trim(),
    inputs: g.input.filter((i) => !inits.has(i.name!)).map((i) => `${i.name} ${shapeText(i.type)}`),
    outputs: g.output.map((o) => `${o.name} ${shapeText(o.type)}`),
    training: ti ? trainingText(ti, inits) : undefined,
  };
}

/**
 * The training algorithm's size and where its optimizer state lives: stored (a trained file, or one
 * built before the initialization graph) or sparse zeros that the initialization graph creates
 * (a fresh `alexc build`, docs/training-graph.md).
 */
function trainingText(ti: onnx.TrainingInfoProto, inferenceInits: ReadonlyMap<string, unknown>): string {
  const alg = ti.algorithm as onnx.GraphProto | null;
  const bound = new Set(ti.updateBinding.map((b) => b.key));
  // The step counter ("step", src/train/step.ts) is bound too, but is no optimizer state.
  const isState = (name: string) => bound.has(name) && !inferenceInits.has(name) && name !== "step";
  const stored = (alg?.initializer ?? []).filter((t) => isState(t.name ?? "")).length;
  const created = (alg?.sparseInitializer ?? []).filter((t) => isState(t.values?.name ?? "")).length;
  return `${alg?.node.length ?? 0} algorithm nodes, ${ti.updateBinding.length} update bindings, ${stored + created} optimizer state tensors (${stored} stored, ${created} zeros created by the initialization graph)`;
}

export function formatSummary(s: Summary, title: string): string {
  const header = ["Layer (node)", "Op", "Output shape", "Param #"];
  const body = s.rows.map((r) => [r.name, r.op, r.output, r.params ? r.params.toLocaleString("en-US") : "0"]);
  const widths = header.map((h, i) => Math.max(h.length, ...body.map((row) => row[i].length)));
  const line = (cells: string[]) => cells.map((c, i) => (i === 3 ? c.padStart(widths[i]) : c.padEnd(widths[i]))).join("  ");
  const rule = "─".repeat(widths.reduce((a, w) => a + w + 2, -2));
  return [
    `Model: ${title}`,
    `IR version ${s.irVersion}, opsets: ${s.opsets.join(", ")}${s.producer ? `, producer: ${s.producer}` : ""}`,
    `Inputs: ${s.inputs.join(", ")}`,
    `Outputs: ${s.outputs.join(", ")}`,
    rule,
    line(header),
    rule,
    ...body.map(line),
    rule,
    `Total params: ${s.totalParams.toLocaleString("en-US")}`,
    `Nodes: ${s.rows.length}`,
    `Training info: ${s.training ?? "none"}`,
  ].join("\n");
}
