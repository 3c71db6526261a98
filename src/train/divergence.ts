/**
 * Telling a run that diverged: a non-finite loss stops it at once (exit 6), pointing at the last
 * good checkpoint; a finished epoch whose metrics look like divergence gets a warning.
 */
import * as fs from "fs";
import { AlexcError } from "../graph/errors";

export class DivergedError extends AlexcError {
  override readonly exitCode = 6;
}

/** Throws DivergedError where `loss`, of step `step` (1-based) in `epoch` (0-based), is not finite. */
export function checkLoss(loss: number, at: { epoch: number; step: number; lr: number; checkpoint: string }): void {
  if (Number.isFinite(loss)) return;
  throw new DivergedError(
    `training diverged: loss is ${loss} at epoch ${at.epoch + 1}, step ${at.step} (lr ${at.lr}); ` +
      `the last good checkpoint${fs.existsSync(at.checkpoint) ? ` is ${at.checkpoint}` : " was never written (no epoch finished)"}; try a smaller --lr`,
  );
}

/**
 * The warning for an epoch that most likely diverged, or undefined. On a handful of steps chance
 * accuracy is expected; after a real epoch it means divergence, as does a mean loss far above a
 * uniform guess's ln(10) ≈ 2.3.
 */
export function divergenceWarning(m: { epoch: number; train_loss: number; test_acc: number }, batchesDone: number): string | undefined {
  if (!((m.test_acc <= 0.11 && batchesDone >= 100) || m.train_loss > 100)) return undefined;
  return (
    `warning: test accuracy ${m.test_acc.toFixed(4)}, train loss ${m.train_loss.toPrecision(4)} after epoch ${m.epoch}: training has most likely diverged ` +
    `(the seed tutorial's lr 0.01 with batch 32 collapsed to 0.10 the same way); lower --lr (e.g. 1e-3)`
  );
}
