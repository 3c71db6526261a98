/**
 * Learning-rate schedules, PyTorch's (`torch.optim.lr_scheduler`) stepped once per optimizer
 * step. The lr is a function of the step index alone, so a checkpoint's `step` is a schedule's
 * whole state and `--resume` continues it exactly.
 *
 * Step k (0-based: k optimizer steps done before it) runs with `lrAt(k)`, the value PyTorch's
 * `scheduler.get_last_lr()` returns after k calls of `scheduler.step()`, one after each
 * `optimizer.step()`:
 *
 * - constant: `lr`.
 * - step (StepLR): `lr · gamma^⌊k / stepSize⌋`.
 * - cosine (SequentialLR([LinearLR, CosineAnnealingLR], milestones=[W])): for k < W,
 *   `lr · (f + (1 − f) · k / W)` with f = warmupStartFactor; for W ≤ k ≤ T (T = totalSteps),
 *   `minLr + (lr − minLr) · (1 + cos(π (k − W) / (T − W))) / 2`; past T it stays at minLr
 *   (PyTorch's cosine would rise again).
 * - onecycle (OneCycleLR, pct_start 0.3, anneal_strategy "cos", div_factor 25,
 *   final_div_factor 1e4, three_phase false): from lr/25 up to lr by step 0.3·T − 1, then down
 *   to lr/25/1e4 at step T − 1; steps past T run with step T's lr (PyTorch raises there).
 *   Only the lr cycles: Adam's β1 or SGD's momentum stay fixed (PyTorch's cycle_momentum=False).
 */
import type { ScheduleSpec } from "../graph/dsl";
import { UsageError } from "../graph/errors";

export type { ScheduleSpec };
export type ScheduleKind = ScheduleSpec["kind"];
export const SCHEDULE_KINDS: readonly ScheduleKind[] = ["constant", "step", "cosine", "onecycle"];

/** A schedule with every setting filled in, as a checkpoint records it. */
export type Schedule =
  | { readonly kind: "constant"; readonly lr: number }
  | { readonly kind: "step"; readonly lr: number; readonly stepSize: number; readonly gamma: number }
  | { readonly kind: "cosine"; readonly lr: number; readonly warmupSteps: number; readonly warmupStartFactor: number; readonly minLr: number; readonly totalSteps: number }
  | { readonly kind: "onecycle"; readonly lr: number; readonly totalSteps: number };

/** Fills in the defaults and checks the settings (a UsageError, exit 64, naming the flag and the value). */
export function resolveSchedule(spec: ScheduleSpec | undefined, lr: number, runSteps: number): Schedule {
  const kind = spec?.kind ?? "constant";
  const fail = (msg: string): never => {
    throw new UsageError(`--schedule ${kind}: ${msg}`);
  };
  const positiveInt = (flag: string, v: number | undefined): number => {
    if (v === undefined || !Number.isInteger(v) || v < 1) fail(`--${flag} must be a positive integer, got ${v}`);
    return v!;
  };
  switch (kind) {
    case "constant":
      return { kind, lr };
    case "step": {
      const gamma = spec?.gamma ?? 0.1;
      if (!(gamma > 0)) fail(`--gamma must be positive, got ${gamma}`);
      return { kind, lr, stepSize: positiveInt("step-size", spec?.stepSize), gamma };
    }
    case "cosine": {
      const totalSteps = positiveInt("total-steps", spec?.totalSteps ?? runSteps);
      const warmupSteps = spec?.warmupSteps ?? 0;
      if (!Number.isInteger(warmupSteps) || warmupSteps < 0 || warmupSteps >= totalSteps) fail(`--warmup-steps must be an integer in [0, ${totalSteps}) (the total steps), got ${warmupSteps}`);
      const warmupStartFactor = spec?.warmupStartFactor ?? 1 / 3;
      if (!(warmupStartFactor > 0 && warmupStartFactor <= 1)) fail(`--warmup-start-factor must be in (0, 1], got ${warmupStartFactor}`);
      const minLr = spec?.minLr ?? 0;
      if (!(minLr >= 0 && minLr <= lr)) fail(`--min-lr must be in [0, lr = ${lr}], got ${minLr}`);
      return { kind, lr, warmupSteps, warmupStartFactor, minLr, totalSteps };
    }
    case "onecycle": {
      const totalSteps = positiveInt("total-steps", spec?.totalSteps ?? runSteps);
      // OneCycleLR's warm-up phase ends at step 0.3·T − 1, which must come after step 0.
      if (0.3 * totalSteps - 1 <= 0) fail(`--total-steps must be at least 4 (its warm-up phase ends at step 0.3·T − 1), got ${totalSteps}`);
      return { kind, lr, totalSteps };
    }
    default:
      return fail(`unknown schedule (one of ${SCHEDULE_KINDS.join(", ")})`);
  }
}

/** The lr optimizer step k (0-based) runs with; the formulas and PyTorch's equivalents are in the header. */
export function lrAt(s: Schedule, k: number): number {
  switch (s.kind) {
    case "constant":
      return s.lr;
    case "step":
      return s.lr * Math.pow(s.gamma, Math.floor(k / s.stepSize));
    case "cosine": {
      const w = s.warmupSteps;
      if (k < w) return s.lr * (s.warmupStartFactor + ((1 - s.warmupStartFactor) * k) / w);
      const t = Math.min(k, s.totalSteps) - w;
      return s.minLr + ((s.lr - s.minLr) * (1 + Math.cos((Math.PI * t) / (s.totalSteps - w)))) / 2;
    }
    case "onecycle":
      return oneCycle(s.lr, s.totalSteps, Math.min(k, s.totalSteps));
  }
}

/** OneCycleLR.get_lr (two phases, cosine annealing), in PyTorch's order of operations. */
function oneCycle(maxLr: number, total: number, k: number): number {
  const initial = maxLr / 25;
  const min = initial / 1e4;
  const phases = [
    { end: 0.3 * total - 1, from: initial, to: maxLr },
    { end: total - 1, from: maxLr, to: min },
  ];
  let start = 0;
  for (const [i, p] of phases.entries()) {
    if (k <= p.end || i === phases.length - 1) {
      const pct = (k - start) / (p.end - start);
      return p.to + ((p.from - p.to) / 2) * (Math.cos(Math.PI * pct) + 1);
    }
    start = p.end;
  }
  throw new Error("unreachable");
}

/** One line for the log: "cosine (warm-up 100 steps from lr·0.01, to 0 at step 2000)". */
export function describeSchedule(s: Schedule): string {
  switch (s.kind) {
    case "constant":
      return "constant";
    case "step":
      return `step (×${s.gamma} every ${s.stepSize} steps)`;
    case "cosine":
      return `cosine (warm-up ${s.warmupSteps} steps from lr·${s.warmupStartFactor}, to ${s.minLr} at step ${s.totalSteps})`;
    case "onecycle":
      return `onecycle (${s.totalSteps} steps, from lr/25, peak at step ${Math.round(0.3 * s.totalSteps - 1)})`;
  }
}
