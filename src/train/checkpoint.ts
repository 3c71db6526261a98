/**
 * Checkpoints: one file holding parameters, optimizer state, step, epoch, RNG seeds and the
 * run's config. Layout: "ALEXCKPT1\n", u32 header length, JSON header, raw little-endian
 * float32 tensors. The header carries a SHA-256 of the tensor bytes, so truncation or
 * corruption is caught on load. Written atomically: a crash never destroys the last good one.
 */
import { createHash } from "crypto";
import * as fs from "fs";
import { BadDataError } from "../graph/errors";
import { writeFileAtomic } from "../emit/atomic-write";
import { checkHeader } from "./checkpoint-header";

const MAGIC = Buffer.from("ALEXCKPT1\n");

/** A missing or corrupt checkpoint (exit 5, like other bad data). */
export class CheckpointError extends BadDataError {}

export interface CheckpointMeta {
  model: string;
  /** Completed epochs. */
  epoch: number;
  /** Batches done in the next epoch, when a run was interrupted mid-epoch (Ctrl-C). */
  batch?: number;
  /** Optimizer steps done. */
  step: number;
  seed: number;
  config: Record<string, unknown>;
}

export interface Checkpoint {
  meta: CheckpointMeta;
  tensors: Map<string, { dims: number[]; data: Float32Array }>;
}

/** The file's bytes in pieces (header, then each tensor as it is), so that large state needs no joined copy. */
export function encodeCheckpoint(ckpt: Checkpoint): Uint8Array[] {
  const entries = [...ckpt.tensors];
  const hash = createHash("sha256");
  let offset = 0;
  const index = entries.map(([name, t]) => {
    const e = { name, dims: t.dims, offset, length: t.data.length };
    offset += t.data.byteLength;
    hash.update(new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength));
    return e;
  });
  const header = Buffer.from(JSON.stringify({ ...ckpt.meta, tensors: index, bytes: offset, sha256: hash.digest("hex") }));
  const head = Buffer.allocUnsafe(MAGIC.length + 4 + header.length);
  MAGIC.copy(head, 0);
  head.writeUInt32LE(header.length, MAGIC.length);
  header.copy(head, MAGIC.length + 4);
  return [head, ...entries.map(([, t]) => new Uint8Array(t.data.buffer, t.data.byteOffset, t.data.byteLength))];
}

export function saveCheckpoint(file: string, ckpt: Checkpoint): void {
  writeFileAtomic(file, encodeCheckpoint(ckpt));
}

export function loadCheckpoint(file: string): Checkpoint {
  let buf: Buffer;
  try {
    buf = fs.readFileSync(file);
  } catch (e) {
    throw new CheckpointError(`${file}: cannot read checkpoint (${(e as NodeJS.ErrnoException).code})`);
  }
  return decodeCheckpoint(buf, file);
}

/**
 * A checkpoint's bytes → its contents. The checksum covers the tensor bytes, not the header, so
 * every header field is checked against the file before anything is allocated for it.
 */
export function decodeCheckpoint(buf: Buffer, file: string): Checkpoint {
  const bad = (why: string): never => {
    throw new CheckpointError(`${file}: corrupt checkpoint: ${why}`);
  };
  if (buf.length < MAGIC.length + 4 || !buf.subarray(0, MAGIC.length).equals(MAGIC)) bad("not an alexc checkpoint (bad magic)");
  const hlen = buf.readUInt32LE(MAGIC.length);
  const start = MAGIC.length + 4 + hlen;
  if (start > buf.length) bad(`header of ${hlen} bytes runs past the end of the ${buf.length}-byte file`);
  let parsed: unknown;
  try {
    parsed = JSON.parse(buf.subarray(MAGIC.length + 4, start).toString("utf8"));
  } catch {
    return bad("header is not valid JSON");
  }
  const body = buf.subarray(start);
  const header = checkHeader(parsed, body.length, bad);
  if (createHash("sha256").update(body).digest("hex") !== header.sha256) bad("checksum mismatch");
  const tensors = new Map<string, { dims: number[]; data: Float32Array }>();
  for (const t of header.tensors) {
    const data = new Float32Array(t.length);
    new Uint8Array(data.buffer).set(body.subarray(t.offset, t.offset + t.length * 4));
    tensors.set(t.name, { dims: t.dims, data });
  }
  const { tensors: _i, bytes: _b, sha256: _s, ...meta } = header;
  return { meta, tensors };
}
