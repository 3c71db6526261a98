/**
 * The per-epoch report a person reads while a run goes on, as Keras' and fastai's fit print it:
 * a header, then one aligned row per finished epoch (train loss, train and test accuracy, speed,
 * time).
 */
import type { EpochMetrics } from "./metrics";

const COLUMNS = [
  { title: "epoch", width: 7 },
  { title: "train_loss", width: 10 },
  { title: "train_acc", width: 9 },
  { title: "test_acc", width: 8 },
  { title: "img/s", width: 8 },
  { title: "time", width: 8 },
] as const;

/** The header row. */
export function tableHeader(): string {
  return COLUMNS.map((c, i) => (i === 0 ? c.title.padEnd(c.width) : c.title.padStart(c.width))).join("  ");
}

/** The row of epoch `m.epoch` of `epochs`. */
export function tableRow(m: EpochMetrics, epochs: number): string {
  const cells = [`${m.epoch}/${epochs}`, m.train_loss.toFixed(4), m.train_acc.toFixed(4), m.test_acc.toFixed(4), m.img_per_s.toFixed(1), clock(m.time_s)];
  return cells.map((text, i) => (i === 0 ? text.padEnd(COLUMNS[i].width) : text.padStart(COLUMNS[i].width))).join("  ");
}

/** Seconds as m:ss, or h:mm:ss from an hour on (fastai's time column). */
export function clock(seconds: number): string {
  const s = Math.round(seconds);
  const two = (n: number) => String(n).padStart(2, "0");
  const [h, m] = [Math.floor(s / 3600), Math.floor((s % 3600) / 60)];
  return h ? `${h}:${two(m)}:${two(s % 60)}` : `${m}:${two(s % 60)}`;
}
