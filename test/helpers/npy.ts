/**
 * A tiny NumPy .npy reader/writer for the tests (format version 1.0 when writing; 1.0–3.0 when
 * reading), so Node can hand arrays to the Python reference (`np.load`) and read its `np.save`
 * output. Little-endian, C order only.
 *
 * Format: magic "\x93NUMPY", version (2 bytes), header length (uint16 LE for v1, uint32 LE for
 * v2/v3), then an ASCII dict such as `{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 224, 224), }`
 * padded with spaces and a final newline so that the data starts at a multiple of 64 bytes.
 */
import * as fs from "fs";

export type NpyData = Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;

export interface NpyArray {
  readonly descr: string;
  readonly shape: readonly number[];
  readonly data: NpyData;
}

const MAGIC = Buffer.from([0x93, 0x4e, 0x55, 0x4d, 0x50, 0x59]); // \x93NUMPY

function descrOf(data: NpyData, bool: boolean): string {
  if (data instanceof Float32Array) return "<f4";
  if (data instanceof Float64Array) return "<f8";
  if (data instanceof BigInt64Array) return "<i8";
  if (data instanceof Int32Array) return "<i4";
  return bool ? "|b1" : "|u1";
}

function shapeText(shape: readonly number[]): string {
  if (shape.length === 0) return "()";
  if (shape.length === 1) return `(${shape[0]},)`;
  return `(${shape.join(", ")})`;
}

/** The bytes of a v1.0 .npy file holding `data` with `shape` (C order). */
export function encodeNpy(data: NpyData, shape: readonly number[], opts: { bool?: boolean } = {}): Buffer {
  const count = shape.reduce((a, b) => a * b, 1);
  if (count !== data.length) throw new Error(`npy: shape ${shapeText(shape)} holds ${count} elements, data has ${data.length}`);
  const dict = `{'descr': '${descrOf(data, opts.bool ?? false)}', 'fortran_order': False, 'shape': ${shapeText(shape)}, }`;
  const preamble = MAGIC.length + 2 + 2; // magic, version, uint16 header length
  const unpadded = preamble + dict.length + 1; // + "\n"
  const total = Math.ceil(unpadded / 64) * 64;
  const header = dict + " ".repeat(total - unpadded) + "\n";
  if (header.length > 0xffff) throw new Error("npy: header too long for format 1.0");
  const head = Buffer.alloc(preamble);
  MAGIC.copy(head, 0);
  head[6] = 1; // major version
  head[7] = 0; // minor version
  head.writeUInt16LE(header.length, 8);
  const body = Buffer.from(data.buffer, data.byteOffset, data.byteLength);
  return Buffer.concat([head, Buffer.from(header, "latin1"), body]);
}

export function writeNpy(file: string, data: NpyData, shape: readonly number[], opts: { bool?: boolean } = {}): void {
  fs.writeFileSync(file, encodeNpy(data, shape, opts));
}

/** Parses .npy bytes; throws with a clear message for anything else. */
export function decodeNpy(buf: Buffer): NpyArray {
  if (buf.length < 10 || !buf.subarray(0, 6).equals(MAGIC)) throw new Error("npy: bad magic (not a .npy file)");
  const major = buf[6];
  let headerLen: number;
  let start: number;
  if (major === 1) {
    headerLen = buf.readUInt16LE(8);
    start = 10;
  } else if (major === 2 || major === 3) {
    headerLen = buf.readUInt32LE(8);
    start = 12;
  } else {
    throw new Error(`npy: unsupported format version ${major}.${buf[7]}`);
  }
  const header = buf.subarray(start, start + headerLen).toString(major === 3 ? "utf8" : "latin1");
  const descr = /'descr'\s*:\s*'([^']+)'/.exec(header)?.[1];
  const fortran = /'fortran_order'\s*:\s*(True|False)/.exec(header)?.[1];
  const shapeMatch = /'shape'\s*:\s*\(([^)]*)\)/.exec(header);
  if (!descr || !fortran || !shapeMatch) throw new Error(`npy: cannot parse header ${JSON.stringify(header)}`);
  if (fortran === "True") throw new Error("npy: fortran_order arrays are not supported");
  const shape = shapeMatch[1]
    .split(",")
    .map((s) => s.trim())
    .filter((s) => s.length > 0)
    .map(Number);
  const count = shape.reduce((a, b) => a * b, 1);
  const offset = start + headerLen;
  // Copy into a fresh (aligned) buffer: the data offset need not suit the element size.
  const bytes = new Uint8Array(buf.subarray(offset)).buffer;
  let data: NpyData;
  switch (descr) {
    case "<f4":
      data = new Float32Array(bytes, 0, count);
      break;
    case "<f8":
      data = new Float64Array(bytes, 0, count);
      break;
    case "<i8":
      data = new BigInt64Array(bytes, 0, count);
      break;
    case "<i4":
      data = new Int32Array(bytes, 0, count);
      break;
    case "|u1":
    case "|b1":
      data = new Uint8Array(bytes, 0, count);
      break;
    default:
      throw new Error(`npy: unsupported dtype ${descr}`);
  }
  return { descr, shape, data };
}

export function readNpy(file: string): NpyArray {
  return decodeNpy(fs.readFileSync(file));
}
