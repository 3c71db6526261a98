/**
 * The DSL's batchNorm1d/batchNorm2d layer (PyTorch's nn.BatchNorm1d/2d): weight and bias
 * parameters, running mean and variance buffers. An inference trace emits ONNX's
 * BatchNormalization reading the running statistics; a training trace normalises with the
 * batch's statistics (ops/batchnorm.ts batchNormTraining) and records the buffers' next values,
 * which the step graph outputs as `<buffer>.next` (train/step.ts).
 */
import type { Tracer } from "./dsl";
import { ShapeError } from "./errors";
import { batchNormTraining } from "./ops/batchnorm";
import type { SourceLoc } from "./source";
import { formatShape, Value } from "./types";

export interface BatchNormOptions {
  /** Declared channels (PyTorch's num_features); checked against the incoming shape. */
  numFeatures?: number;
  /** ε added to the variance (PyTorch's 1e-5). */
  eps?: number;
  /** How far each training step moves the running statistics towards the batch's (PyTorch's 0.1). */
  momentum?: number;
  name?: string;
}

/** The input ranks each layer takes, as PyTorch's: [N, C, H, W]; [N, C] or [N, C, L]. */
const RANKS = { batchNorm2d: [4], batchNorm1d: [2, 3] } as const;

export function batchNormLayer(t: Tracer, x: Value, kind: keyof typeof RANKS, opts: BatchNormOptions, loc: SourceLoc | undefined): Value {
  const name = t.layerName("bn", opts.name);
  const fail = (rule: string): never => {
    throw new ShapeError(kind, name, rule, loc);
  };
  const ranks: readonly number[] = RANKS[kind];
  if (!ranks.includes(x.shape.length)) fail(`input must have rank ${ranks.join(" or ")} ([N, C${kind === "batchNorm2d" ? ", H, W" : "(, L)"}]), got ${formatShape(x.shape)}`);
  const c = x.shape[1];
  if (typeof c !== "number") return fail(`input channels must be known (got ${String(c)})`);
  if (opts.numFeatures !== undefined && opts.numFeatures !== c) fail(`input has ${c} channels, numFeatures says ${opts.numFeatures}`);
  const epsilon = opts.eps ?? 1e-5;
  const momentum = opts.momentum ?? 0.1;
  const scale = t.param(`${name}.weight`, [c], c, 1);
  const bias = t.param(`${name}.bias`, [c], c, 0);
  const mean = t.buffer(`${name}.running_mean`, [c], 0);
  const variance = t.buffer(`${name}.running_var`, [c], 1);
  if (!t.opts.training) return t.emit(name, "BatchNormalization", [x, scale, bias, mean, variance], { epsilon }, loc)[0];
  const out = t.b.scoped(t.qualified(name), () => batchNormTraining(t.b, [x, scale, bias, mean, variance], { epsilon, momentum }));
  t.update(mean, out.mean);
  t.update(variance, out.variance);
  return out.y;
}
