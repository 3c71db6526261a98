/**
 * metrics.jsonl in the output folder: one JSON line per optimizer step (its loss and lr) and one per
 * finished epoch (the EpochMetrics the trainer also returns), appended as they happen; and
 * metrics.csv beside it, one row per finished epoch (Keras' CSVLogger), for spreadsheets and plots.
 * Both are logs, not state: a run resumed from a checkpoint appends the steps (and an epoch killed
 * between its row and its checkpoint) again, so a line can appear more than once; the last is the
 * one the final weights went through.
 */
import * as fs from "fs";
import * as path from "path";
import { IoError } from "../graph/errors";

export const METRICS = "metrics.jsonl";
export const METRICS_CSV = "metrics.csv";

/** The CSV's columns: the epoch line's fields, in this order. */
const CSV_COLUMNS = ["epoch", "train_loss", "train_acc", "test_acc", "img_per_s", "time_s"] as const;

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
  readonly csv: string;

  constructor(out: string) {
    this.file = path.join(out, METRICS);
    this.csv = path.join(out, METRICS_CSV);
  }

  /** Step `step` (1-based) of epoch `epoch` (1-based), run with learning rate `lr`. */
  step(epoch: number, step: number, loss: number, lr: number): void {
    append(this.file, JSON.stringify({ type: "step", epoch, step, loss, lr }) + "\n");
  }

  epoch(m: EpochMetrics): void {
    append(this.file, JSON.stringify({ type: "epoch", ...m }) + "\n");
    // A resumed run appends to its CSV; the header is written once, with the first row.
    const header = fs.existsSync(this.csv) ? "" : CSV_COLUMNS.join(",") + "\n";
    append(this.csv, header + CSV_COLUMNS.map((c) => String(m[c])).join(",") + "\n");
  }
}

/** Whole lines in one write, so a killed run leaves whole lines; a full or read-only disk is one IoError. */
function append(file: string, lines: string): void {
  try {
    fs.appendFileSync(file, lines);
  } catch (e) {
    throw new IoError(`cannot write ${file}: ${(e as NodeJS.ErrnoException).code ?? (e as Error).message}`);
  }
}
