/** Chooses an optimizer by name, with the model's declared defaults. */
import type { TrainDefaults } from "../../graph/dsl";
import { adam } from "./adam";
import { adamw, ADAMW_WEIGHT_DECAY } from "./adamw";
import type { Optimizer } from "./optimizer";
import { sgd } from "./sgd";

export function makeOptimizer(name: string, defaults: TrainDefaults = {}, overrides: { momentum?: number; weightDecay?: number } = {}): Optimizer {
  const weightDecay = overrides.weightDecay ?? defaults.weightDecay;
  if (name === "sgd") return sgd({ momentum: overrides.momentum ?? defaults.momentum ?? 0.9, weightDecay: weightDecay ?? 0 });
  // AdamW's weight decay is decoupled, and PyTorch's default for it is 0.01, not 0.
  if (name === "adamw") return adamw({ weightDecay: weightDecay ?? ADAMW_WEIGHT_DECAY });
  return adam({ weightDecay: weightDecay ?? 0 });
}

/**
 * What a built file records about its optimizer beyond its state tensors' names: AdamW keeps
 * Adam's state (`.adam_m`, `.adam_v`), so its files say so in the metadata. Adam and SGD files
 * add nothing (their bytes stay as they were); program-onnx.ts reads them from the state names.
 */
export const OPTIMIZER_KEY = "alexc.optimizer";
export function optimizerMetadata(o: Optimizer): Record<string, string> {
  return o.name === "adamw" ? { [OPTIMIZER_KEY]: JSON.stringify({ name: o.name, ...o.config }) } : {};
}
