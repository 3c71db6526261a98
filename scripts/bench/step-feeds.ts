/**
 * Synthetic feeds for a training program's step, shared by the benchmark, profiling and check
 * scripts: a fixed uint8 batch with its labels, lr and the step counter; the program's initial
 * parameters and optimizer state; dropout masks from a seeded generator; and carrying a step's
 * updated tensors into the next step's feeds as the trainer does.
 */
import * as ort from "onnxruntime-node";
import { Rng } from "../../src/graph/random";
import type { MaskInput } from "../../src/passes/webgpu";
import type { TrainingProgram } from "../../src/train/program";
import { collectReplaced } from "../../src/train/collect-garbage";
import { next, STEP_COUNTER } from "../../src/train/step";
import { dropoutMask } from "../../src/train/dropout";

/** images, labels, lr and the step counter (0); `salt` varies the batch. */
export function batchFeeds(program: TrainingProgram, batch: number, salt = 0, lr = 1e-3): Record<string, ort.Tensor> {
  const [c, h, w] = program.rawShape;
  return {
    images: new ort.Tensor("uint8", new Uint8Array(batch * c * h * w).map((_, i) => (i * 37 + salt) % 256), [batch, c, h, w]),
    labels: new ort.Tensor("int64", BigInt64Array.from({ length: batch }, (_, i) => BigInt((i + salt) % 10)), [batch]),
    lr: new ort.Tensor("float32", new Float32Array([lr]), []),
    [STEP_COUNTER]: new ort.Tensor("int64", new BigInt64Array([0n]), []),
  };
}

export function maskFeeds(masks: readonly MaskInput[], batch: number, seed: number): Record<string, ort.Tensor> {
  const rng = Rng.derive(seed, "bench-masks");
  return Object.fromEntries(masks.map((m) => [m.name, dropoutMask(rng, m, batch)]));
}

/** The program's starting parameters and state, by name. */
export function stateFeeds(program: TrainingProgram): Record<string, ort.Tensor> {
  const { tensors } = program.initial();
  const dims = new Map(program.mutable.map((t) => [t.name, t.dims]));
  return Object.fromEntries([...tensors].map(([name, data]) => [name, new ort.Tensor("float32", data, [...dims.get(name)!])]));
}

/**
 * What the trainer does after a step: each `<name>.next` output replaces `<name>` in `feeds` (on
 * alexc's binding it is the same array, updated in place), and replaced arrays are collected when
 * they are large (collect-garbage.ts).
 */
export function carryOver(feeds: Record<string, ort.Tensor>, out: Record<string, ort.Tensor>, names: readonly string[]): void {
  let replaced = 0;
  for (const name of names) {
    if (out[next(name)].data !== feeds[name].data) replaced += (feeds[name].data as ArrayBufferView).byteLength;
    feeds[name] = out[next(name)];
  }
  collectReplaced(replaced);
}
