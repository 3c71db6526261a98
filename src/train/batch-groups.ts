/**
 * How an epoch's batches reach the step: resumed mid-epoch, the batches already done are skipped;
 * with K steps per run, consecutive batches of equal size go in together as one [K, N, …] tensor.
 */

export function* dropFirst<T>(items: Iterable<T>, n: number): Generator<T> {
  let i = 0;
  for (const item of items) if (i++ >= n) yield item;
}

/** Consecutive batches of equal size, up to k at a time (the partial last batch runs alone). */
export function* groupBatches(batches: Iterable<Int32Array>, k: number): Generator<Int32Array[]> {
  let group: Int32Array[] = [];
  for (const b of batches) {
    if (group.length > 0 && (group.length === k || group[0].length !== b.length)) {
      yield group;
      group = [];
    }
    group.push(b);
  }
  if (group.length > 0) yield group;
}

/** The sample indices of a group, one after another. */
export function concat(parts: Int32Array[]): Int32Array {
  if (parts.length === 1) return parts[0];
  const out = new Int32Array(parts.reduce((a, p) => a + p.length, 0));
  let off = 0;
  for (const p of parts) {
    out.set(p, off);
    off += p.length;
  }
  return out;
}
