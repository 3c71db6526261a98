/**
 * Byte-level mutations of a valid file, as fast-check arbitraries: the damage a file meets on
 * disk or from an attacker (bit flips, truncation, overwritten runs, a length field set to an
 * extreme, a slice repeated or cut out). Each arbitrary shrinks towards a small edit, so a
 * failing case is reported as the smallest damage that still breaks the reader.
 */
import fc from "fast-check";

/** Values a length, count or dimension field is set to: empty, one, and the edges of u32, i32 and u64. */
export const EXTREME_U32 = [0, 1, 0x7f, 0xff, 0x7fff, 0xffff, 0x7fffffff, 0x80000000, 0xfffffffe, 0xffffffff] as const;

export type Mutation =
  | { kind: "flip"; at: number; bit: number }
  | { kind: "truncate"; length: number }
  | { kind: "overwrite"; at: number; bytes: number[] }
  | { kind: "u32"; at: number; value: number; bigEndian: boolean }
  | { kind: "u64"; at: number; value: bigint }
  | { kind: "cut"; at: number; length: number }
  | { kind: "repeat"; at: number; length: number };

/** One mutation of a file of `size` bytes; offsets are taken modulo the size when applied. */
export function mutation(size: number): fc.Arbitrary<Mutation> {
  const at = fc.nat({ max: Math.max(0, size - 1) });
  return fc.oneof(
    fc.record({ kind: fc.constant("flip" as const), at, bit: fc.nat({ max: 7 }) }),
    fc.record({ kind: fc.constant("truncate" as const), length: fc.nat({ max: Math.max(0, size - 1) }) }),
    fc.record({ kind: fc.constant("overwrite" as const), at, bytes: fc.array(fc.nat({ max: 255 }), { minLength: 1, maxLength: 16 }) }),
    fc.record({ kind: fc.constant("u32" as const), at, value: fc.constantFrom(...EXTREME_U32), bigEndian: fc.boolean() }),
    fc.record({ kind: fc.constant("u64" as const), at, value: fc.constantFrom(0n, 1n << 60n, (1n << 64n) - 1n, 1n << 32n) }),
    fc.record({ kind: fc.constant("cut" as const), at, length: fc.integer({ min: 1, max: 64 }) }),
    fc.record({ kind: fc.constant("repeat" as const), at, length: fc.integer({ min: 1, max: 64 }) }),
  );
}

/** A new buffer: `bytes` with `m` applied (the original is never changed). */
export function applyMutation(bytes: Uint8Array, m: Mutation): Uint8Array {
  const out = Buffer.from(bytes);
  const at = bytes.length === 0 ? 0 : ("at" in m ? m.at : 0) % bytes.length;
  switch (m.kind) {
    case "flip":
      if (out.length > 0) out[at] ^= 1 << m.bit;
      return out;
    case "truncate":
      return out.subarray(0, m.length);
    case "overwrite":
      m.bytes.forEach((b, i) => at + i < out.length && (out[at + i] = b));
      return out;
    case "u32":
      if (at + 4 <= out.length) m.bigEndian ? out.writeUInt32BE(m.value, at) : out.writeUInt32LE(m.value, at);
      return out;
    case "u64":
      if (at + 8 <= out.length) out.writeBigUInt64LE(m.value, at);
      return out;
    case "cut":
      return Buffer.concat([out.subarray(0, at), out.subarray(at + m.length)]);
    case "repeat":
      return Buffer.concat([out.subarray(0, at + m.length), out.subarray(at)]);
  }
}

/** One to three mutations of `bytes`, applied in order. */
export function mutated(bytes: Uint8Array): fc.Arbitrary<Uint8Array> {
  return fc.array(mutation(bytes.length), { minLength: 1, maxLength: 3 }).map((ms) => ms.reduce(applyMutation, bytes));
}
