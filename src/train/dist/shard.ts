/**
 * Which part of a global batch (or of the test set) each rank takes: contiguous shards whose sizes
 * differ by at most one, so any batch, the epoch's last partial one included, is split exactly.
 */
import * as ort from "onnxruntime-node";

/** Rank `rank`'s share of `count` items: [from, to). */
export function shardOf(count: number, rank: number, size: number): { from: number; to: number } {
  return { from: Math.floor((rank * count) / size), to: Math.floor(((rank + 1) * count) / size) };
}

/** Rows [from, to) of a tensor whose first dimension is the batch (a view, no copy). */
export function sliceRows(t: ort.Tensor, from: number, to: number): ort.Tensor {
  const rows = t.dims[0];
  const row = rows ? t.data.length / rows : 0;
  const data = (t.data as Uint8Array).subarray(from * row, to * row);
  return new ort.Tensor(t.type as "bool", data, [to - from, ...t.dims.slice(1)]);
}
