/**
 * metrics.jsonl in the output folder: one JSON line per optimizer step (its loss and lr) and one per
 * finished epoch (the EpochMetrics the trainer also returns), appended as they happen. It is a log,
 * not state: a run resumed from a checkpoint appends the steps after it again, so a step can appear
 * more than once (the last line of a step is the one the final weights went through).
 */
import * as fs from "fs";
import * as path from "path";
import { IoError } from "../graph/errors";

export const METRICS = "metrics.jsonl";

export interface EpochMetrics {
  epoch: number;
  train_loss: number;
  train_acc: number;
  test_acc: number;
  time_s: number;
  img_per_s: number;
}

export class MetricsFile {
  readonly file: string;

  constructor(out: string) {
    this.file = path.join(out, METRICS);
  }

  /** Step `step` (1-based) of epoch `epoch` (1-based), run with learning rate `lr`. */
  step(epoch: number, step: number, loss: number, lr: number): void {
    this.append({ type: "step", epoch, step, loss, lr });
  }

  epoch(m: EpochMetrics): void {
    this.append({ type: "epoch", ...m });
  }

  /** One line in one write, so a killed run leaves whole lines; a full or read-only disk is one IoError. */
  private append(entry: Record<string, unknown>): void {
    try {
      fs.appendFileSync(this.file, JSON.stringify(entry) + "\n");
    } catch (e) {
      throw new IoError(`cannot write ${this.file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
    }
  }
}
