/**
 * The ONNX reader as alexc uses it, in process: decode, then everything `inspect`, `export`,
 * `export-weights`, `predict` and `train` do with a file before onnxruntime sees anything; and
 * structural mutations of a valid training file (tensor dims, element types, names, bindings,
 * metadata) that byte flips alone would rarely reach.
 */
import fc from "fast-check";
import { decodeModel, readMetadataOnly } from "../../../src/emit/decode";
import { encodeModel } from "../../../src/emit/encode";
import { onnx } from "../../../src/emit/proto";
import { formatSummary, summarize } from "../../../src/emit/summary";
import { floatValues } from "../../../src/emit/tensor-data";
import { toFloat16 } from "../../../src/emit/to-float16";
import { programFromOnnx } from "../../../src/train/program-onnx";
import { sessionBytes } from "../../../src/emit/session-bytes";
import { cpuPasses } from "../../../src/passes/cpu";
import { runPasses } from "../../../src/passes/run";

/** What alexc does with an .onnx file before handing anything to onnxruntime, command by command. */
export function readOnnxAsAlexcDoes(bytes: Uint8Array, file: string): void {
  readMetadataOnly(bytes, file);
  const m = decodeModel(bytes, file);
  formatSummary(summarize(m), m.graph?.name ?? file);
  encodeModel(toFloat16(m, file));
  for (const t of m.graph?.initializer ?? []) if (t.dataType === onnx.TensorProto.DataType.FLOAT) floatValues(t, file);
  const program = programFromOnnx(m, file);
  program.initial();
  // The CPU target's passes and the encoding onnxruntime receives, as `train` runs them.
  const passes = cpuPasses({ blockSize: 8, winograd: true, batch: 16 });
  sessionBytes(runPasses(program.evalGraph(), passes));
  sessionBytes(runPasses(program.loweredStepGraph("dropout").graph, passes));
}

const DIMS = [0, -1, 3, 1e6, 2 ** 31, 1e12, 2 ** 53 + 2, -(2 ** 62)];

type Edit = (m: onnx.IModelProto, pick: number, value: number) => void;

/** Every tensor of the file (initialisers dense and sparse, of the graph and of training_info). */
function tensors(m: onnx.IModelProto): onnx.ITensorProto[] {
  const graphs = [m.graph, ...(m.trainingInfo ?? []).flatMap((t) => [t.algorithm, t.initialization])].filter((g): g is onnx.IGraphProto => !!g);
  return graphs.flatMap((g) => [...(g.initializer ?? []), ...(g.sparseInitializer ?? []).flatMap((s) => [s as onnx.ITensorProto, s.values!])]);
}

const at = <T>(xs: readonly T[], pick: number): T | undefined => (xs.length ? xs[pick % xs.length] : undefined);

const EDITS: Record<string, Edit> = {
  "huge or negative dim": (m, pick, v) => {
    const t = at(tensors(m), pick);
    if (t) t.dims = [...(t.dims ?? []), 1].map((d, i) => (i === pick % ((t.dims?.length ?? 0) + 1) ? DIMS[v % DIMS.length] : d));
  },
  "wrong element type": (m, pick, v) => {
    const t = at(tensors(m), pick);
    if (t) t.dataType = v % 20;
  },
  "raw data cut short": (m, pick, v) => {
    const t = at(tensors(m).filter((x) => x.rawData?.length), pick);
    if (t) t.rawData = t.rawData!.subarray(0, v % t.rawData!.length);
  },
  "duplicated initialiser name": (m, pick, v) => {
    const ts = m.graph?.initializer ?? [];
    const [a, b] = [at(ts, pick), at(ts, v)];
    if (a && b) a.name = b.name;
  },
  "node input renamed to an unknown value": (m, pick, v) => {
    const nodes = [...(m.graph?.node ?? []), ...(m.trainingInfo?.[0]?.algorithm?.node ?? [])];
    const n = at(nodes, pick);
    if (n?.input?.length) n.input[v % n.input.length] = `missing${v}`;
  },
  "node dropped": (m, pick) => {
    const g = pick % 2 ? m.graph : m.trainingInfo?.[0]?.algorithm;
    if (g?.node?.length) g.node.splice(pick % g.node.length, 1);
  },
  "update_binding pointing elsewhere": (m, pick, v) => {
    const b = at(m.trainingInfo?.[0]?.updateBinding ?? [], pick);
    if (b) v % 2 ? (b.value = `${b.value}x`) : (b.key = `k${v}`);
  },
  "metadata value garbled": (m, pick, v) => {
    const p = at(m.metadataProps ?? [], pick);
    if (p) p.value = ["", "{", "null", "[]", "1", '{"raw":{}}', '{"raw":{"shape":[1,2]}}', '"x"'][v % 8];
  },
  "graph output removed": (m) => {
    if (m.graph) m.graph.output = [];
  },
  "graph input removed": (m, pick) => {
    if (m.graph?.input?.length) m.graph.input.splice(pick % m.graph.input.length, 1);
  },
  "attribute type changed": (m, pick, v) => {
    const n = at((m.graph?.node ?? []).filter((x) => x.attribute?.length), pick);
    const a = n && at(n.attribute ?? [], v);
    if (a) a.type = v % 16;
  },
  "value type dims garbled": (m, pick, v) => {
    const vi = at([...(m.graph?.input ?? []), ...(m.graph?.output ?? []), ...(m.graph?.valueInfo ?? [])], pick);
    const dims = vi?.type?.tensorType?.shape?.dim;
    if (dims?.length) dims[v % dims.length] = { dimValue: DIMS[v % DIMS.length] };
  },
};

/** A decoded copy of `bytes` with one structural edit, encoded again. */
export function structurallyMutated(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc
    .record({ edit: fc.constantFrom(...Object.keys(EDITS)), pick: fc.nat({ max: 1000 }), value: fc.nat({ max: 1000 }) })
    .map(({ edit, pick, value }) => {
      const m = onnx.ModelProto.decode(bytes);
      EDITS[edit](m, pick, value);
      return onnx.ModelProto.encode(m).finish();
    });
}
