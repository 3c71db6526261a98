/** The trainer's console output: whole lines, and a progress line redrawn while an epoch runs. */

export interface Logger {
  line(text: string): void;
  progress(text: string): void;
}

/** A progress bar redrawn in place on a terminal; elsewhere (logs, CI) a plain line every 30 s. */
export function plainLogger(stream: NodeJS.WriteStream = process.stdout, plainEveryMs = 30_000): Logger {
  const tty = !!stream.isTTY;
  let last = Date.now();
  return {
    line: (t) => stream.write(`${tty ? "\r\x1b[K" : ""}${t}\n`),
    progress: (t) => {
      if (tty) stream.write(`\r\x1b[K${t}`);
      else if (Date.now() - last >= plainEveryMs) {
        last = Date.now();
        stream.write(`${t}\n`);
      }
    },
  };
}

export interface EpochProgress {
  readonly epoch: number;
  readonly epochs: number;
  /** Batches done in this epoch, of `total`. */
  readonly batchIndex: number;
  readonly total: number;
  readonly meanLoss: number;
  /** Images trained on in this run's part of the epoch, and the seconds it took. */
  readonly seen: number;
  readonly elapsed: number;
  readonly remaining: number;
}

export function progressLine(p: EpochProgress): string {
  const rate = p.seen / p.elapsed;
  const eta = p.remaining / rate;
  return `epoch ${p.epoch + 1}/${p.epochs} ${bar(p.batchIndex / p.total)} ${p.batchIndex}/${p.total} loss ${p.meanLoss.toFixed(4)} ${rate.toFixed(1)} img/s ETA ${formatTime(eta)}`;
}

function bar(frac: number): string {
  const n = Math.round(frac * 20);
  return `[${"#".repeat(n)}${".".repeat(20 - n)}]`;
}

function formatTime(s: number): string {
  if (!Number.isFinite(s)) return "?";
  const m = Math.floor(s / 60);
  return m > 0 ? `${m}m${Math.round(s % 60)}s` : `${Math.round(s)}s`;
}
