/**
 * The run's dropout randomness, derived from the run seed alone so that a resumed run repeats a
 * straight one: masks fed to the lowered step per (epoch, batch), and, where K steps run in one
 * ONNX Loop with onnxruntime's own Dropout, that Dropout's seed per epoch.
 */
import * as ort from "onnxruntime-node";
import { Rng } from "../graph/random";
import { numel } from "../graph/types";
import type { MaskInput } from "../passes/webgpu";

/** The seed of the runtime's Dropout generators for `epoch` (K > 1 steps per run). */
export function dropoutSeed(seed: number, epoch: number): number {
  return Rng.derive(seed, "dropout", epoch).nextU32() % 2147483647;
}

/** The generator of the masks for one batch: the same whether or not the run was resumed before it. */
export function maskRng(seed: number, epoch: number, batchIndex: number): Rng {
  return Rng.derive(seed, "dropout-masks", epoch, batchIndex);
}

/** Bernoulli(1 − p) keep-masks from the run's seeded generator, for the lowered step's mask inputs. */
export function dropoutMask(rng: Rng, m: MaskInput, batch: number): ort.Tensor {
  const shape = m.shape.map((d, i) => (i === 0 ? batch : (d as number)));
  const keep = new Uint8Array(numel(shape));
  for (let i = 0; i < keep.length; i++) keep[i] = rng.nextFloat() >= m.p ? 1 : 0;
  return new ort.Tensor("bool", keep, shape);
}
