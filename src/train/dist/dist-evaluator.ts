/**
 * Test accuracy in a data-parallel run: each rank evaluates its contiguous shard of the test set
 * and the correct counts are summed over the ranks, so every rank gets the whole set's accuracy
 * for 1/K of the work.
 */
import type { Split } from "../data/fashion-mnist";
import type { Evaluator } from "../evaluate";
import type { Communicator } from "./communicator";
import { shardOf } from "./shard";

export function shardedEvaluator(evaluator: Evaluator, comm: Communicator): Pick<Evaluator, "accuracy" | "release"> {
  return {
    async accuracy(split: Split, tensors: ReadonlyMap<string, Float32Array>): Promise<number> {
      const { from, to } = shardOf(split.count, comm.rank, comm.size);
      const correct = Float64Array.of(to > from ? await evaluator.correctIn(split, tensors, from, to) : 0);
      comm.allreduce(correct, "sum");
      return correct[0] / split.count;
    },
    release: () => evaluator.release(),
  };
}
