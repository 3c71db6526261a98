/**
 * A training run's per-epoch metrics read back from its output folder (metrics.jsonl, which
 * `alexc train` appends to), for reports: one clear error naming the file and line where the
 * folder or a line is not what a run writes.
 */
import * as fs from "fs";
import * as path from "path";
import { BadDataError, IoError } from "../graph/errors";
import { METRICS, type EpochMetrics } from "../train/metrics";

export interface RunMetrics {
  /** The run's folder as given. */
  readonly dir: string;
  /** Its finished epochs, in order (a resumed run's last line for an epoch counts). */
  readonly epochs: readonly EpochMetrics[];
}

const FIELDS = ["epoch", "train_loss", "train_acc", "test_acc", "time_s", "img_per_s"] as const;

export function readRunMetrics(dir: string): RunMetrics {
  const file = path.join(dir, METRICS);
  let text: string;
  try {
    text = fs.readFileSync(file, "utf8");
  } catch (e) {
    throw new IoError(`${dir}: not a training run's folder: cannot read ${METRICS} (${(e as NodeJS.ErrnoException).code ?? (e as Error).message})`);
  }
  const byEpoch = new Map<number, EpochMetrics>();
  for (const [i, line] of text.split("\n").entries()) {
    if (!line.trim()) continue;
    const m = parseLine(line, `${file}:${i + 1}`);
    if (m) byEpoch.set(m.epoch, m);
  }
  if (byEpoch.size === 0) throw new BadDataError(`${file}: no finished epoch yet`);
  return { dir, epochs: [...byEpoch.values()].sort((a, b) => a.epoch - b.epoch) };
}

/** An epoch line's metrics; undefined for a step line. */
function parseLine(line: string, where: string): EpochMetrics | undefined {
  let v: unknown;
  try {
    v = JSON.parse(line);
  } catch {
    throw new BadDataError(`${where}: not a JSON line`);
  }
  const o = v as Record<string, unknown>;
  if (typeof o !== "object" || o === null || (o.type !== "epoch" && o.type !== "step")) throw new BadDataError(`${where}: not a metrics line (no "type": "epoch" or "step")`);
  if (o.type === "step") return undefined;
  for (const f of FIELDS) if (typeof o[f] !== "number" || !Number.isFinite(o[f])) throw new BadDataError(`${where}: epoch line without a finite "${f}"`);
  return Object.fromEntries(FIELDS.map((f) => [f, o[f]])) as unknown as EpochMetrics;
}
