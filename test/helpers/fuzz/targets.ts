/**
 * The readers under fuzzing, each as a Target: valid seed files, an arbitrary of damaged inputs
 * (byte mutations of a seed, and structural ones that keep the parts a reader checks first, such
 * as a checksum or a CRC, consistent so the damage reaches further), the call that reads one, and
 * what a clean failure of that reader looks like (its exit codes). Shared by test/fuzz-readers.test.ts
 * and scripts/fuzz.ts.
 */
import { createHash } from "crypto";
import fc from "fast-check";
import * as zlib from "zlib";
import { decodeSafetensors, encodeSafetensors } from "../../../src/emit/safetensors";
import { decodeCheckpoint, encodeCheckpoint } from "../../../src/train/checkpoint";
import { gunzipIfNeeded, parseIdxImages, parseIdxLabels } from "../../../src/train/data/idx";
import { decodePng } from "../../../src/infer/png";
import { imageToInput } from "../../../src/infer/image-input";
import { EXTREME_U32, mutated } from "./mutate";
import { fixCrcs, seedPngs } from "./png-encode";
import { readOnnxAsAlexcDoes, structurallyMutated } from "./onnx-target";

export interface Target {
  readonly name: string;
  /** The name messages must start with. */
  readonly file: string;
  readonly exitCodes: readonly number[];
  /** Damaged inputs derived from the seeds. */
  readonly inputs: fc.Arbitrary<Uint8Array>;
  read(bytes: Uint8Array): unknown;
  /** The largest single allocation a reader may make for this input. */
  budget(bytes: Uint8Array): number;
}

const MiB = 1 << 20;
const linearBudget = (bytes: Uint8Array) => 16 * bytes.length + MiB;

/** Byte mutations of any seed, and `structural` ones where given, half and half. */
function damaged(seeds: readonly Uint8Array[], structural?: (seed: Uint8Array) => fc.Arbitrary<Uint8Array>): fc.Arbitrary<Uint8Array> {
  const bytewise = fc.constantFrom(...seeds).chain(mutated);
  return structural ? fc.oneof(bytewise, fc.constantFrom(...seeds).chain(structural)) : bytewise;
}

function idxTarget(): Target {
  const images = Buffer.alloc(16 + 3 * 28 * 28, 7);
  images.writeUInt32BE(0x803, 0);
  [3, 28, 28].forEach((d, i) => images.writeUInt32BE(d, 4 + 4 * i));
  const labels = Buffer.from([0, 0, 8, 1, 0, 0, 0, 4, 1, 2, 9, 0]);
  const seeds = [images, labels, zlib.gzipSync(images), zlib.gzipSync(labels)];
  const header = (seed: Uint8Array) =>
    fc.record({ word: fc.nat({ max: 3 }), value: fc.constantFrom(...EXTREME_U32, 0x803, 0x801, 0x0c03) }).map(({ word, value }) => {
      const raw = gunzipIfNeeded(Buffer.from(seed), "seed");
      const out = Buffer.from(raw);
      if (4 * word + 4 <= out.length) out.writeUInt32BE(value, 4 * word);
      return seed[0] === 0x1f ? zlib.gzipSync(out) : out;
    });
  return {
    name: "IDX",
    file: "data.idx",
    exitCodes: [5],
    inputs: damaged(seeds, header),
    read: (bytes) => {
      const raw = gunzipIfNeeded(Buffer.from(bytes), "data.idx");
      return raw.length > 4 && raw[3] === 1 ? parseIdxLabels(raw, "data.idx", { numClasses: 10 }) : parseIdxImages(raw, "data.idx", { expectDims: [28, 28] });
    },
    budget: linearBudget,
  };
}

const HEADER_VALUES = [-1, 0, 1, 1.5, 2 ** 31, 1e12, 2 ** 60, "3", null, [], {}, [1e12, 1e12], [-1], ["x"]];

/** A JSON header edit: one field of one entry (or of the top level) set to an odd value, or a name duplicated. */
function headerEdit(header: Record<string, unknown>, path: { entry: number; field: number; value: number; dup: boolean }, fields: readonly string[]): void {
  const list = Array.isArray(header.tensors) ? (header.tensors as Record<string, unknown>[]) : undefined;
  const keys = Object.keys(header).filter((k) => k !== "__metadata__");
  const entry = list ? list[path.entry % list.length] : (header[keys[path.entry % keys.length]] as Record<string, unknown>);
  if (typeof entry !== "object" || entry === null) return;
  if (path.dup && list && list.length > 1) entry.name = list[(path.entry + 1) % list.length].name;
  else if (path.field % (fields.length + 1) === fields.length) header[keys[path.value % keys.length]] = HEADER_VALUES[path.value % HEADER_VALUES.length];
  else entry[fields[path.field % fields.length]] = HEADER_VALUES[path.value % HEADER_VALUES.length];
}

const editPath = fc.record({ entry: fc.nat({ max: 100 }), field: fc.nat({ max: 100 }), value: fc.nat({ max: 100 }), dup: fc.boolean() });

function checkpointSeed(): Uint8Array {
  const t = (n: number, k: number) => ({ dims: [n], data: Float32Array.from({ length: n }, (_, i) => i * k) });
  return Buffer.concat(
    encodeCheckpoint({
      meta: { model: "tiny", epoch: 1, step: 4, seed: 0, config: { epochs: 2, lr: 0.01 } },
      tensors: new Map([["fc.weight", t(6, 0.5)], ["fc.bias", t(2, 1)], ["fc.weight.adam_m", t(6, 0.1)]]),
    }),
  );
}

/** A checkpoint with one header field changed; `rehash` keeps its checksum valid (the checksum covers the tensors only). */
function checkpointHeaderEdit(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.record({ path: editPath, rehash: fc.boolean() }).map(({ path, rehash }) => {
    const buf = Buffer.from(seed);
    const hlen = buf.readUInt32LE(10);
    const header = JSON.parse(buf.subarray(14, 14 + hlen).toString()) as Record<string, unknown>;
    const body = buf.subarray(14 + hlen);
    headerEdit(header, path, ["name", "dims", "offset", "length"]);
    if (rehash) header.sha256 = createHash("sha256").update(body).digest("hex");
    const head = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(head.length);
    return Buffer.concat([buf.subarray(0, 10), len, head, body]);
  });
}

function checkpointTarget(): Target {
  return {
    name: "checkpoint",
    file: "run/checkpoint.ckpt",
    exitCodes: [5],
    inputs: damaged([checkpointSeed()], checkpointHeaderEdit),
    read: (bytes) => decodeCheckpoint(Buffer.from(bytes), "run/checkpoint.ckpt"),
    budget: linearBudget,
  };
}

function safetensorsSeed(): Uint8Array {
  return encodeSafetensors(
    [
      { name: "conv.0.weight", dims: [2, 1, 2, 2], data: Float32Array.from({ length: 8 }, (_, i) => i / 3) },
      { name: "conv.0.bias", dims: [2], data: Float32Array.of(1, -1) },
    ],
    { format: "pt" },
  );
}

/** A safetensors file with one header field changed (shape, dtype, offsets, or an entry replaced), its length field kept right. */
function safetensorsHeaderEdit(seed: Uint8Array): fc.Arbitrary<Uint8Array> {
  const dtypes = ["F32", "F16", "BF16", "F64", "I64", "U8", "", "f32", "F32 "];
  return fc.record({ path: editPath, dtype: fc.constantFrom(...dtypes), dupText: fc.boolean() }).map(({ path, dtype, dupText }) => {
    const buf = Buffer.from(seed);
    const hl = Number(buf.readBigUInt64LE(0));
    const header = JSON.parse(buf.subarray(8, 8 + hl).toString()) as Record<string, unknown>;
    headerEdit(header, path, ["shape", "data_offsets", "dtype"]);
    const first = Object.keys(header).find((k) => k !== "__metadata__");
    const entry = first ? header[first] : undefined;
    if (path.field % 4 === 3 && typeof entry === "object" && entry !== null) (entry as Record<string, unknown>).dtype = dtype;
    let text = JSON.stringify(header);
    // A duplicated name: the first entry's text repeated under the same key (JSON.parse keeps the last).
    if (dupText && first) text = text.replace(/^\{/, `{${JSON.stringify(first)}:{"dtype":"F32","shape":[1e9],"data_offsets":[0,4]},`);
    const head = Buffer.from(text);
    const len = Buffer.alloc(8);
    len.writeBigUInt64LE(BigInt(head.length));
    return Buffer.concat([len, head, buf.subarray(8 + hl)]);
  });
}

function safetensorsTarget(): Target {
  return {
    name: "safetensors",
    file: "weights.safetensors",
    exitCodes: [5],
    inputs: damaged([safetensorsSeed()], safetensorsHeaderEdit),
    read: (bytes) => decodeSafetensors(bytes, "weights.safetensors"),
    budget: linearBudget,
  };
}

/** The IDAT data inflated leniently (CRCs ignored): what a PNG may legitimately allocate for. */
function inflatedSize(png: Uint8Array): number {
  const buf = Buffer.from(png);
  const idat: Buffer[] = [];
  for (let pos = 8; pos + 12 <= buf.length; ) {
    const len = buf.readUInt32BE(pos);
    if (buf.toString("latin1", pos + 4, pos + 8) === "IDAT") idat.push(buf.subarray(pos + 8, Math.min(buf.length, pos + 8 + len)));
    pos += 12 + len;
  }
  try {
    return zlib.inflateSync(Buffer.concat(idat), { maxOutputLength: 256 * MiB, finishFlush: zlib.constants.Z_SYNC_FLUSH }).length;
  } catch {
    return 0;
  }
}

function pngTarget(): Target {
  return {
    name: "PNG",
    file: "image.png",
    exitCodes: [5],
    inputs: damaged(seedPngs(), (seed) => mutated(seed).map(fixCrcs)),
    read: (bytes) => imageToInput(decodePng(bytes, "image.png"), 1, 28, 28),
    budget: (bytes) => 64 * (bytes.length + inflatedSize(bytes)) + MiB,
  };
}

function onnxTarget(seed: Uint8Array): Target {
  return {
    name: "ONNX",
    file: "model.onnx",
    exitCodes: [2, 3, 4],
    inputs: damaged([seed], structurallyMutated),
    read: (bytes) => readOnnxAsAlexcDoes(bytes, "model.onnx"),
    budget: linearBudget,
  };
}

/** Every reader; the ONNX one fuzzes `onnxSeed`, a built training file. */
export function allTargets(onnxSeed: Uint8Array): Target[] {
  return [idxTarget(), checkpointTarget(), safetensorsTarget(), pngTarget(), onnxTarget(onnxSeed)];
}
