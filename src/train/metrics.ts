/**
 * metrics.jsonl in the output folder: one JSON line per optimizer step (its loss and lr) and one per
 * finished epoch (the EpochMetrics the trainer also returns), appended as they happen.
 */
import * as fs from "fs";
import * as path from "path";

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
    fs.appendFileSync(this.file, JSON.stringify({ type: "step", epoch, step, loss, lr }) + "\n");
  }

  epoch(m: EpochMetrics): void {
    fs.appendFileSync(this.file, JSON.stringify({ type: "epoch", ...m }) + "\n");
  }
}
