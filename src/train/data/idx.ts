/**
 * Reader for IDX files (the MNIST / FashionMNIST container format), raw or gzipped.
 *
 * Layout: a big-endian u32 magic 0x0000TTRR (TT = element type, RR = rank), RR big-endian u32
 * dimension sizes, then the elements in row-major order. Only uint8 (TT = 0x08) is supported,
 * which is all the MNIST family uses. Every check that fails throws a DataError naming the file.
 */
import { constants as bufferConstants } from "buffer";
import * as fs from "fs";
import * as zlib from "zlib";
import { DataError } from "./errors";

export const IDX_UINT8_IMAGES_MAGIC = 0x00000803;
export const IDX_UINT8_LABELS_MAGIC = 0x00000801;

export interface IdxImages {
  count: number;
  rows: number;
  cols: number;
  /** count*rows*cols pixels, row-major, owned (not a view onto the file buffer). */
  pixels: Uint8Array;
}

export interface IdxLabels {
  count: number;
  labels: Uint8Array;
}

export interface ImageOptions {
  /** Required image size, e.g. [28, 28] for FashionMNIST; any size is accepted when absent. */
  expectDims?: [rows: number, cols: number];
}

export interface LabelOptions {
  /** Labels must lie in 0..numClasses-1; unchecked when absent. */
  numClasses?: number;
}

/** Reads a file and gunzips it when it starts with the gzip magic 0x1f8b. */
export function readMaybeGzip(path: string): Buffer {
  let raw: Buffer;
  try {
    raw = fs.readFileSync(path);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    if (err.code === "ENOENT") throw new DataError(`${path}: file not found`);
    throw new DataError(`${path}: cannot read: ${err.message}`);
  }
  return gunzipIfNeeded(raw, path);
}

/**
 * `raw` inflated when it is gzip, else as it is. The inflated size is capped at what the IDX
 * header at its start declares, so a small file that inflates without end is refused as it
 * inflates rather than after filling memory.
 */
export function gunzipIfNeeded(raw: Buffer, path: string): Buffer {
  if (raw.length < 2 || raw[0] !== 0x1f || raw[1] !== 0x8b) return raw;
  const limit = Math.min(declaredIdxBytes(raw), bufferConstants.MAX_LENGTH - 1);
  try {
    return zlib.gunzipSync(raw, { maxOutputLength: limit + 1 });
  } catch (e) {
    if ((e as NodeJS.ErrnoException).code === "ERR_BUFFER_TOO_LARGE") {
      throw new DataError(`${path}: the gzip stream inflates past the ${limit} bytes its IDX header declares`);
    }
    throw new DataError(`${path}: corrupt gzip stream (${raw.length} compressed bytes): ${(e as Error).message}`);
  }
}

/**
 * Header plus elements of the IDX file a gzip stream begins with; Infinity where unreadable. Only
 * its first KiB is inflated, which deflate's ratio bounds to about a MiB.
 */
function declaredIdxBytes(gz: Buffer): number {
  let head: Buffer;
  try {
    head = zlib.gunzipSync(gz.subarray(0, 1024), { finishFlush: zlib.constants.Z_SYNC_FLUSH });
  } catch {
    return Infinity;
  }
  const rank = head.length >= 4 ? head[3] : 0;
  if (rank < 1 || head.length < 4 + 4 * rank) return Infinity;
  let n = 1;
  for (let i = 0; i < rank; i++) n *= head.readUInt32BE(4 + 4 * i);
  return 4 + 4 * rank + n;
}

export function readIdxImages(path: string, opts: ImageOptions = {}): IdxImages {
  return parseIdxImages(readMaybeGzip(path), path, opts);
}

export function readIdxLabels(path: string, opts: LabelOptions = {}): IdxLabels {
  return parseIdxLabels(readMaybeGzip(path), path, opts);
}

/** Parses an already-decompressed uint8 rank-3 IDX buffer; `path` is only used in messages. */
export function parseIdxImages(buf: Uint8Array, path: string, opts: ImageOptions = {}): IdxImages {
  const [count, rows, cols] = readHeader(buf, path, IDX_UINT8_IMAGES_MAGIC, 3);
  const headerBytes = 4 + 3 * 4;
  const expected = count * rows * cols;
  checkPayloadLength(buf, path, headerBytes, expected, `${count} images of ${rows}x${cols}`);
  if (opts.expectDims) {
    const [er, ec] = opts.expectDims;
    if (rows !== er || cols !== ec) {
      throw new DataError(`${path}: images are ${rows}x${cols}, expected ${er}x${ec}`);
    }
  }
  return { count, rows, cols, pixels: copyRange(buf, headerBytes, expected) };
}

/** Parses an already-decompressed uint8 rank-1 IDX buffer; `path` is only used in messages. */
export function parseIdxLabels(buf: Uint8Array, path: string, opts: LabelOptions = {}): IdxLabels {
  const [count] = readHeader(buf, path, IDX_UINT8_LABELS_MAGIC, 1);
  const headerBytes = 4 + 4;
  checkPayloadLength(buf, path, headerBytes, count, `${count} labels`);
  const labels = copyRange(buf, headerBytes, count);
  if (opts.numClasses !== undefined) {
    const n = opts.numClasses;
    for (let i = 0; i < count; i++) {
      if (labels[i] >= n) {
        throw new DataError(`${path}: label ${labels[i]} at index ${i} is out of range 0..${n - 1}`);
      }
    }
  }
  return { count, labels };
}

/** A plain, owned copy: Buffer#slice would return a view that pins the whole decompressed file. */
function copyRange(buf: Uint8Array, start: number, length: number): Uint8Array {
  const out = new Uint8Array(length);
  out.set(buf.subarray(start, start + length));
  return out;
}

function hex32(v: number): string {
  return "0x" + (v >>> 0).toString(16).padStart(8, "0");
}

function describeMagic(magic: number): string {
  if (magic === IDX_UINT8_IMAGES_MAGIC) return "IDX uint8 images, rank 3";
  if (magic === IDX_UINT8_LABELS_MAGIC) return "IDX uint8 labels, rank 1";
  return "not a supported IDX type";
}

function readHeader(buf: Uint8Array, path: string, magic: number, rank: number): number[] {
  const headerBytes = 4 + 4 * rank;
  if (buf.length < 4) {
    throw new DataError(`${path}: too short for an IDX file: ${buf.length} bytes, need at least ${headerBytes}`);
  }
  const view = new DataView(buf.buffer, buf.byteOffset, buf.byteLength);
  const found = view.getUint32(0, false);
  if (found !== magic) {
    throw new DataError(
      `${path}: bad magic number ${hex32(found)} (${describeMagic(found)}), expected ${hex32(magic)} (${describeMagic(magic)})`,
    );
  }
  if (buf.length < headerBytes) {
    throw new DataError(`${path}: truncated header: ${buf.length} bytes, a rank-${rank} IDX header needs ${headerBytes}`);
  }
  const dims: number[] = [];
  for (let i = 0; i < rank; i++) dims.push(view.getUint32(4 + 4 * i, false));
  return dims;
}

function checkPayloadLength(buf: Uint8Array, path: string, headerBytes: number, expected: number, what: string): void {
  const actual = buf.length - headerBytes;
  if (actual < expected) {
    throw new DataError(
      `${path}: truncated: header declares ${what} (${expected} bytes) but the file holds ${actual} bytes after its ${headerBytes}-byte header`,
    );
  }
  if (actual > expected) {
    throw new DataError(
      `${path}: too long: header declares ${what} (${expected} bytes) but the file holds ${actual} bytes after its ${headerBytes}-byte header (${actual - expected} extra)`,
    );
  }
}
