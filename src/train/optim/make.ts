/** Chooses an optimizer by name, with the model's declared defaults. */
import type { TrainDefaults } from "../../graph/dsl";
import { adam } from "./adam";
import type { Optimizer } from "./optimizer";
import { sgd } from "./sgd";

export function makeOptimizer(name: string, defaults: TrainDefaults = {}, overrides: { momentum?: number; weightDecay?: number } = {}): Optimizer {
  const weightDecay = overrides.weightDecay ?? defaults.weightDecay ?? 0;
  if (name === "sgd") return sgd({ momentum: overrides.momentum ?? defaults.momentum ?? 0.9, weightDecay });
  return adam({ weightDecay });
}
