/**
 * AdamW with PyTorch's semantics (torch.optim.AdamW, amsgrad off): decoupled weight decay,
 * p ← p·(1 − lr·wd), then Adam's update (adam.ts) with the gradient undecayed. PyTorch's
 * default weight decay, 0.01, is the default here too.
 */
import { adamFamily, AdamConfig } from "./adam";
import type { Optimizer } from "./optimizer";

export function adamw(cfg: AdamConfig = {}): Optimizer {
  return adamFamily("adamw", { ...cfg, weightDecay: 0 }, cfg.weightDecay ?? ADAMW_WEIGHT_DECAY);
}

/** torch.optim.AdamW's default weight_decay. */
export const ADAMW_WEIGHT_DECAY = 0.01;
