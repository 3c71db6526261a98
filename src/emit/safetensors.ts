/**
 * The safetensors format (Hugging Face): an 8-byte little-endian header length, a JSON header
 * `{ name: { dtype, shape, data_offsets: [begin, end] }, "__metadata__"?: {string: string} }`,
 * then the raw little-endian tensor bytes, offsets relative to the end of the header.
 *
 * Writing: float32 tensors (int64 where a tensor says so) in the order given, header padded with
 * spaces to 8 bytes (so the data is aligned), same input ⇒ same bytes. Reading: F32, F16, BF16,
 * F64 and I64 (counters), converted to float32; every header field is checked against the file
 * size, and anything wrong is one BadDataError naming the file.
 */
import { BadDataError } from "../graph/errors";
import { readInputFile } from "./read-input";
import { float16ToFloat32 } from "./float16";

export interface NamedTensor {
  readonly name: string;
  readonly dims: readonly number[];
  readonly data: Float32Array;
  /** Written as int64 (PyTorch's counters, BatchNorm's num_batches_tracked); F32 by default. */
  readonly dtype?: "I64";
}

const ITEM_SIZE: Record<string, number> = { F32: 4, F16: 2, BF16: 2, F64: 8, I64: 8 };
/** The largest header we accept; the format's own reference implementation caps it at 100 MB. */
const MAX_HEADER = 100_000_000;

export function encodeSafetensors(tensors: readonly NamedTensor[], metadata: Record<string, string> = {}): Uint8Array {
  const header: Record<string, unknown> = {};
  if (Object.keys(metadata).length > 0) header.__metadata__ = metadata;
  let offset = 0;
  for (const t of tensors) {
    const n = t.dims.reduce((a, d) => a * d, 1);
    if (n !== t.data.length) throw new Error(`safetensors: '${t.name}' has ${t.data.length} values for shape [${t.dims.join(", ")}]`);
    if (t.name in header) throw new Error(`safetensors: duplicate tensor name '${t.name}'`);
    const size = ITEM_SIZE[t.dtype ?? "F32"];
    header[t.name] = { dtype: t.dtype ?? "F32", shape: [...t.dims], data_offsets: [offset, offset + size * n] };
    offset += size * n;
  }
  let json = JSON.stringify(header);
  json += " ".repeat((8 - ((8 + Buffer.byteLength(json)) % 8)) % 8);
  const head = Buffer.from(json, "utf8");
  const out = Buffer.alloc(8 + head.length + offset);
  out.writeBigUInt64LE(BigInt(head.length), 0);
  head.copy(out, 8);
  let at = 8 + head.length;
  for (const t of tensors) {
    const data = t.dtype === "I64" ? BigInt64Array.from(t.data, (v) => BigInt(Math.round(v))) : t.data;
    const bytes = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
    // Float32Array is host-endian; every platform Node runs on is little-endian, as the format is.
    bytes.copy(out, at);
    at += bytes.length;
  }
  return out;
}

export interface Safetensors {
  readonly tensors: NamedTensor[];
  readonly metadata: Record<string, string>;
}

export function decodeSafetensors(bytes: Uint8Array, source: string): Safetensors {
  const fail = (why: string): never => {
    throw new BadDataError(`${source}: not a valid safetensors file: ${why}`);
  };
  const buf = Buffer.from(bytes.buffer, bytes.byteOffset, bytes.byteLength);
  if (buf.length < 8) fail(`${buf.length} bytes, shorter than the 8-byte header length`);
  const headerLen = buf.readBigUInt64LE(0);
  if (headerLen > BigInt(Math.min(MAX_HEADER, buf.length - 8))) fail(`header length ${headerLen} exceeds the file (${buf.length} bytes)`);
  const hl = Number(headerLen);
  let header: unknown;
  try {
    header = JSON.parse(buf.subarray(8, 8 + hl).toString("utf8"));
  } catch {
    // JSON.parse's message quotes the header, which may hold any bytes: the position is enough.
    fail("header is not valid JSON");
  }
  if (typeof header !== "object" || header === null || Array.isArray(header)) fail("header is not a JSON object");
  const dataStart = 8 + hl;
  const dataLen = buf.length - dataStart;
  const tensors: NamedTensor[] = [];
  let metadata: Record<string, string> = {};
  for (const [name, entry] of Object.entries(header as Record<string, unknown>)) {
    if (name === "__metadata__") {
      if (typeof entry !== "object" || entry === null || Object.values(entry).some((v) => typeof v !== "string")) fail("__metadata__ must map strings to strings");
      metadata = entry as Record<string, string>;
      continue;
    }
    const e = entry as { dtype?: unknown; shape?: unknown; data_offsets?: unknown };
    if (typeof e !== "object" || e === null) fail(`entry '${name}' is not an object`);
    const dtype = String(e.dtype);
    const size = ITEM_SIZE[dtype];
    if (!size) fail(`tensor '${name}' has dtype ${dtype}; alexc reads F32, F16, BF16, F64 and I64`);
    const shape = e.shape;
    if (!Array.isArray(shape) || shape.some((d) => !Number.isSafeInteger(d) || d < 0)) fail(`tensor '${name}' has a bad shape ${JSON.stringify(shape)}`);
    const offs = e.data_offsets;
    if (!Array.isArray(offs) || offs.length !== 2 || offs.some((o) => !Number.isSafeInteger(o) || o < 0) || offs[0] > offs[1]) {
      fail(`tensor '${name}' has bad data_offsets ${JSON.stringify(offs)}`);
    }
    const [begin, end] = offs as [number, number];
    const dims = shape as number[];
    const n = dims.reduce((a, d) => a * d, 1);
    if (end - begin !== n * size) fail(`tensor '${name}' [${dims.join(", ")}] ${dtype} needs ${n * size} bytes, its data_offsets span ${end - begin}`);
    if (end > dataLen) fail(`tensor '${name}' ends at byte ${end} of a ${dataLen}-byte data section (truncated file?)`);
    tensors.push({ name, dims, data: toFloat32(buf.subarray(dataStart + begin, dataStart + end), dtype, n) });
  }
  return { tensors, metadata };
}

function toFloat32(raw: Buffer, dtype: string, n: number): Float32Array {
  const out = new Float32Array(n);
  switch (dtype) {
    case "F32":
      new Uint8Array(out.buffer).set(raw);
      break;
    case "F64":
      for (let i = 0; i < n; i++) out[i] = raw.readDoubleLE(8 * i);
      break;
    case "I64":
      for (let i = 0; i < n; i++) out[i] = Number(raw.readBigInt64LE(8 * i));
      break;
    case "F16":
      for (let i = 0; i < n; i++) out[i] = float16ToFloat32(raw.readUInt16LE(2 * i));
      break;
    case "BF16": {
      const word = new DataView(new ArrayBuffer(4));
      for (let i = 0; i < n; i++) {
        word.setUint32(0, raw.readUInt16LE(2 * i) << 16);
        out[i] = word.getFloat32(0);
      }
      break;
    }
  }
  return out;
}

/** Reads and decodes a safetensors file; a missing or unreadable file is an IoError. */
export function readSafetensorsFile(file: string): Safetensors {
  return decodeSafetensors(readInputFile(file), file);
}
