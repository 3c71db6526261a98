/**
 * Test-set accuracy after each epoch: the program's evaluation model (images, labels and the
 * parameters as inputs → correct count) through the target's evaluation passes, in one session
 * for the whole run, at the evaluation batch size.
 */
import * as ort from "onnxruntime-node";
import { BatchSampler, gatherBatch } from "./data/batches";
import type { Split } from "./data/fashion-mnist";
import type { TrainingProgram } from "./program";
import { createSession } from "./session";
import { sessionBytes } from "../emit/session-bytes";
import { pausePoint } from "../emit/pause-point";
import { runPasses } from "../passes/run";
import type { TargetSpec } from "./targets/target";

export class Evaluator {
  private constructor(
    private readonly session: ort.InferenceSession,
    private readonly dims: ReadonlyMap<string, readonly number[]>,
    private readonly batchSize: number,
  ) {}

  static async open(spec: TargetSpec, program: TrainingProgram, batchSize: number): Promise<Evaluator> {
    const session = await createSession(sessionBytes(runPasses(program.evalGraph(), spec.evalPasses(batchSize))), spec.evalSession());
    return new Evaluator(session, new Map(program.mutable.map((t) => [t.name, t.dims])), batchSize);
  }

  /** The fraction of `split` the parameters in `tensors` classify correctly. */
  async accuracy(split: Split, tensors: ReadonlyMap<string, Float32Array>): Promise<number> {
    return (await this.correctIn(split, tensors, 0, split.count)) / split.count;
  }

  /** How many of items [from, to) of `split` the parameters classify correctly (a data-parallel rank's shard). */
  async correctIn(split: Split, tensors: ReadonlyMap<string, Float32Array>, from: number, to: number): Promise<number> {
    const sampler = new BatchSampler(to - from, this.batchSize, { shuffle: false });
    const params: Record<string, ort.Tensor> = {};
    for (const name of this.session.inputNames) {
      if (tensors.has(name)) params[name] = new ort.Tensor("float32", tensors.get(name)!, [...this.dims.get(name)!]);
    }
    let correct = 0;
    for (const indices of sampler.epoch()) {
      const batch = gatherBatch(split, from ? indices.map((i) => i + from) : indices);
      const out = await this.session.run({
        ...params,
        images: new ort.Tensor("uint8", batch.images, [indices.length, 1, split.rows, split.cols]),
        labels: new ort.Tensor("int64", batch.labels, [indices.length]),
      });
      correct += Number(out.correct.data[0]);
      pausePoint("evaluate");
    }
    return correct;
  }

  release(): Promise<void> {
    return this.session.release();
  }
}
