/**
 * Epoch iteration over a dataset: which item indices form each mini-batch, and copying those
 * items into the dense tensors a training step feeds to the model.
 */
import { Rng } from "../../graph/random";
import type { Split } from "./fashion-mnist";

export interface SamplerOptions {
  shuffle: boolean;
  /** Required when shuffling; advanced by the shuffle, so its state() can be checkpointed. */
  rng?: Rng;
}

export class BatchSampler {
  private readonly rng: Rng | undefined;

  constructor(
    readonly count: number,
    readonly batchSize: number,
    private readonly opts: SamplerOptions,
  ) {
    if (!Number.isInteger(count) || count < 0) throw new RangeError(`BatchSampler: count must be a non-negative integer, got ${count}`);
    if (!Number.isInteger(batchSize) || batchSize < 1) {
      throw new RangeError(`BatchSampler: batchSize must be a positive integer, got ${batchSize}`);
    }
    if (opts.shuffle && !opts.rng) throw new Error("BatchSampler: shuffle needs an rng, so that the order is reproducible");
    this.rng = opts.rng;
  }

  /** Includes the final partial batch. */
  get batchesPerEpoch(): number {
    return Math.ceil(this.count / this.batchSize);
  }

  /**
   * Yields the index batches of one epoch; the last may be shorter than batchSize.
   * Each epoch shuffles a fresh identity permutation, so its order depends only on the rng
   * state when the first batch is requested: save rng.state() before an epoch to replay it.
   */
  *epoch(): Generator<Int32Array> {
    const order = new Int32Array(this.count);
    for (let i = 0; i < order.length; i++) order[i] = i;
    if (this.opts.shuffle && this.rng) fisherYates(order, this.rng);
    for (let start = 0; start < order.length; start += this.batchSize) {
      // slice, not subarray: callers may keep a batch after the generator moves on
      yield order.slice(start, start + this.batchSize);
    }
  }
}

function fisherYates(a: Int32Array, rng: Rng): void {
  for (let i = a.length - 1; i > 0; i--) {
    const j = rng.nextInt(i + 1);
    const t = a[i];
    a[i] = a[j];
    a[j] = t;
  }
}

/** Copies the chosen items into an NCHW uint8 batch (B*1*rows*cols) and int64 labels (ONNX's label type). */
export function gatherBatch(split: Split, indices: Int32Array): { images: Uint8Array; labels: BigInt64Array } {
  const pixels = split.rows * split.cols;
  const images = new Uint8Array(indices.length * pixels);
  const labels = new BigInt64Array(indices.length);
  for (let b = 0; b < indices.length; b++) {
    const i = indices[b];
    if (!(i >= 0 && i < split.count)) throw new RangeError(`gatherBatch: index ${i} out of range 0..${split.count - 1}`);
    images.set(split.images.subarray(i * pixels, (i + 1) * pixels), b * pixels);
    labels[b] = BigInt(split.labels[i]);
  }
  return { images, labels };
}
