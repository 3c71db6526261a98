/**
 * The JSON header of a checkpoint, checked field by field: the progress counters are
 * non-negative integers, and each tensor's entry (a unique name, its dims, its offset and length)
 * fits inside the tensor bytes the file holds, so that loading allocates nothing a header merely
 * claims. Messages name the field; the caller adds the file.
 */
import type { CheckpointMeta } from "./checkpoint";

export interface TensorEntry {
  name: string;
  dims: number[];
  /** Byte offset in the tensor section. */
  offset: number;
  /** float32 elements. */
  length: number;
}

export type CheckpointHeader = CheckpointMeta & { tensors: TensorEntry[]; bytes: number; sha256: string };

const count = (v: unknown): v is number => Number.isSafeInteger(v) && (v as number) >= 0;

export function checkHeader(h: unknown, bodyBytes: number, bad: (why: string) => never): CheckpointHeader {
  if (typeof h !== "object" || h === null || Array.isArray(h)) return bad("header is not a JSON object");
  const r = h as Record<string, unknown>;
  if (typeof r.model !== "string") bad("header has no model name");
  for (const k of ["epoch", "step", "seed", "bytes"]) if (!count(r[k])) bad(`header field ${k} is ${JSON.stringify(r[k])}, not a non-negative integer`);
  if (r.batch !== undefined && !count(r.batch)) bad(`header field batch is ${JSON.stringify(r.batch)}, not a non-negative integer`);
  if (typeof r.config !== "object" || r.config === null || Array.isArray(r.config)) bad("header has no config object");
  if (typeof r.sha256 !== "string") bad("header has no sha256");
  if (r.bytes !== bodyBytes) bad(`expected ${r.bytes} bytes of tensors, found ${bodyBytes}`);
  if (!Array.isArray(r.tensors)) bad("header has no tensor list");
  const names = new Set<string>();
  for (const [i, t] of (r.tensors as unknown[]).entries()) {
    const e = checkEntry(t, i, bodyBytes, bad);
    if (names.has(e.name)) bad(`tensor '${e.name}' appears twice`);
    names.add(e.name);
  }
  return h as CheckpointHeader;
}

function checkEntry(t: unknown, i: number, bodyBytes: number, bad: (why: string) => never): TensorEntry {
  const e = (typeof t === "object" && t !== null ? t : {}) as Record<string, unknown>;
  if (typeof e.name !== "string") bad(`tensor entry ${i} has no name`);
  const name = e.name as string;
  if (!Array.isArray(e.dims) || !e.dims.every(count)) bad(`tensor '${name}' has bad dims ${JSON.stringify(e.dims)}`);
  if (!count(e.offset) || !count(e.length) || e.offset % 4 !== 0) bad(`tensor '${name}' has a bad offset or length`);
  const [offset, length] = [e.offset as number, e.length as number];
  if (offset + 4 * length > bodyBytes) bad(`tensor '${name}' ends at byte ${offset + 4 * length} of a ${bodyBytes}-byte tensor section`);
  const product = (e.dims as number[]).reduce((a, d) => a * d, 1);
  if (product !== length) bad(`tensor '${name}' has dims [${(e.dims as number[]).join(", ")}] but ${length} values`);
  return e as unknown as TensorEntry;
}
