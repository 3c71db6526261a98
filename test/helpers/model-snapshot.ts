/**
 * Builds a model's inference ONNX file with the library API (buildInferenceGraph for the IR,
 * compileModel + encodeModel for the bytes) and a JSON snapshot of the IR to compare the
 * decoded file against, with tensor payloads as sha256 hashes.
 *
 * Used in-process for small models and as a child-process script for AlexNet:
 *
 *   node -r tsx/cjs test/helpers/model-snapshot.ts MODEL.ts SEED OUT.onnx OUT.json
 *
 * Why a child process: under jest, src/graph/random.ts runs ~30× slower than under node
 * (every `Math.imul` is a global lookup through jest's vm context), so drawing AlexNet's 58M
 * initial values in-process takes about a minute instead of two seconds.
 */
import { spawnSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { isModelDef, ModelDef } from "../../src/graph/dsl";
import type { AttrValue } from "../../src/graph/op";
import { buildInferenceGraph } from "../../src/graph/trace";
import type { Dim, DType, TensorData } from "../../src/graph/types";
import { compileModel, modelMetadata, nodeDoc } from "../../src/emit/compile";
import { encodeModel } from "../../src/emit/encode";

export interface ValueSnap {
  name: string;
  dtype: DType;
  shape: Dim[];
}

export interface TensorSnap {
  name: string;
  dtype: DType;
  dims: number[];
  byteLength: number;
  sha256: string;
  doc?: string;
}

export type AttrSnap = number | number[] | string | TensorSnap;

export interface NodeSnap {
  name: string;
  op: string;
  /** Input names; null for an optional input that is left out. */
  inputs: (string | null)[];
  outputs: ValueSnap[];
  attrs: Record<string, AttrSnap>;
  /** What the emitter writes as doc_string: "<model file>:<line>:<column>". */
  doc?: string;
}

export interface ModelSnapshot {
  name: string;
  doc?: string;
  seed: number;
  inputs: ValueSnap[];
  outputs: ValueSnap[];
  nodes: NodeSnap[];
  initializers: TensorSnap[];
  metadata: Record<string, string>;
  /** sha256 of the encoded file and its size. */
  file: { sha256: string; byteLength: number };
}

export function sha256(bytes: Uint8Array): string {
  return createHash("sha256").update(bytes).digest("hex");
}

export function tensorBytes(t: { data: ArrayBufferView }): Uint8Array {
  return new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength);
}

function tensorSnap(t: TensorData): TensorSnap {
  const bytes = tensorBytes(t);
  return { name: t.name, dtype: t.dtype, dims: [...t.dims], byteLength: bytes.byteLength, sha256: sha256(bytes), doc: t.doc };
}

function attrSnap(v: AttrValue): AttrSnap {
  if (typeof v === "number" || typeof v === "string") return v;
  if (Array.isArray(v)) return [...(v as number[])];
  return tensorSnap(v as TensorData);
}

/** The IR snapshot and the encoded bytes of `def` at `seed`. */
export function snapshotModel(def: ModelDef, seed: number): { snapshot: ModelSnapshot; bytes: Uint8Array } {
  const { b } = buildInferenceGraph(def, seed);
  const g = b.build();
  const bytes = encodeModel(compileModel(def, { seed }));
  const value = (v: { name: string; dtype: DType; shape: readonly Dim[] }): ValueSnap => ({ name: v.name, dtype: v.dtype, shape: [...v.shape] });
  const snapshot: ModelSnapshot = {
    name: def.spec.name,
    doc: def.spec.doc,
    seed,
    inputs: g.inputs.map(value),
    outputs: g.outputs.map(value),
    nodes: g.nodes.map((n) => ({
      name: n.name,
      op: n.op,
      inputs: n.inputs.map((v) => v?.name ?? null),
      outputs: n.outputs.map(value),
      attrs: Object.fromEntries(Object.entries(n.attrs).map(([k, v]) => [k, attrSnap(v)])),
      doc: nodeDoc(n) ?? n.doc,
    })),
    initializers: g.initializers.map(tensorSnap),
    metadata: modelMetadata(def, seed),
    file: { sha256: sha256(bytes), byteLength: bytes.byteLength },
  };
  return { snapshot, bytes };
}

export function loadModelDef(file: string): ModelDef {
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const mod = require(path.resolve(file)) as Record<string, unknown>;
  const def = [mod.default, ...Object.values(mod)].find(isModelDef);
  if (!def) throw new Error(`${file}: exports no model`);
  return def;
}

/**
 * Runs this file as a script in a child node (with tsx): writes OUT.onnx (compileModel +
 * encodeModel, no training_info) and the IR snapshot, and returns the snapshot.
 */
export function snapshotInChild(modelFile: string, seed: number, outOnnx: string, outJson: string): ModelSnapshot {
  const root = path.resolve(__dirname, "..", "..");
  const r = spawnSync(process.execPath, ["-r", "tsx/cjs", __filename, path.resolve(root, modelFile), String(seed), outOnnx, outJson], {
    cwd: root,
    encoding: "utf8",
    timeout: 180_000,
  });
  if (r.error) throw r.error;
  if (r.status !== 0) throw new Error(`model-snapshot.ts ${modelFile} failed (exit ${r.status}):\n${r.stderr}`);
  return JSON.parse(fs.readFileSync(outJson, "utf8")) as ModelSnapshot;
}

if (require.main === module) {
  const [modelFile, seedText, outOnnx, outJson] = process.argv.slice(2);
  if (!modelFile || !seedText || !outOnnx || !outJson) {
    process.stderr.write("usage: node -r tsx/cjs test/helpers/model-snapshot.ts MODEL.ts SEED OUT.onnx OUT.json\n");
    process.exit(2);
  }
  const { snapshot, bytes } = snapshotModel(loadModelDef(modelFile), Number(seedText));
  fs.writeFileSync(outOnnx, bytes);
  fs.writeFileSync(outJson, JSON.stringify(snapshot));
}
