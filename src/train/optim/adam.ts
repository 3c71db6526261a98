/**
 * Adam with PyTorch's semantics (torch.optim.Adam, amsgrad off): bias-corrected moments,
 * ε added after the bias-corrected square root, optional coupled weight decay. AdamW
 * (adamw.ts) is this update on a decayed parameter.
 */
import type { Value } from "../../graph/types";
import type { Optimizer } from "./optimizer";
import { withWeightDecay } from "./optimizer";

export interface AdamConfig {
  beta1?: number;
  beta2?: number;
  eps?: number;
  weightDecay?: number;
}

export function adam(cfg: AdamConfig = {}): Optimizer {
  return adamFamily("adam", cfg, 0);
}

/**
 * Adam's update; with `decoupledDecay` ≠ 0 (AdamW) the parameter is first decayed,
 * p ← p·(1 − lr·decoupledDecay), and the Adam step applied to the decayed value, as
 * torch.optim.AdamW does. The state tensors are Adam's either way.
 */
export function adamFamily(name: "adam" | "adamw", cfg: AdamConfig, decoupledDecay: number): Optimizer {
  const beta1 = cfg.beta1 ?? 0.9;
  const beta2 = cfg.beta2 ?? 0.999;
  const eps = cfg.eps ?? 1e-8;
  const wd = cfg.weightDecay ?? 0;
  return {
    name,
    config: { beta1, beta2, eps, weightDecay: name === "adamw" ? decoupledDecay : wd },
    stateFor: (param) => [
      { name: `${param}.adam_m`, param },
      { name: `${param}.adam_v`, param },
    ],
    updates({ b, lr, step, state }) {
      // Bias corrections, shared by every parameter of this step graph: made in the first update.
      let corrections: { stepSize: Value; epsHat: Value; keep?: Value } | undefined;
      return (p, grad) => {
        const dt = p.dtype;
        const g = withWeightDecay(b, grad, p, wd);
        const m = state.get(`${p.name}.adam_m`)!;
        const v = state.get(`${p.name}.adam_v`)!;
        const v2 = b.op1("Add", [b.op1("Mul", [v, b.scalar(beta2, dt)]), b.op1("Mul", [b.op1("Mul", [g, g]), b.scalar(1 - beta2, dt)])]);
        if (!corrections) {
          // t = step + 1.
          corrections = b.scoped("adam", () => {
            const t = b.op1("Add", [step, b.scalar(1, dt)]);
            const bc1 = b.op1("Sub", [b.scalar(1, dt), b.op1("Pow", [b.scalar(beta1, dt), t])]);
            const bc2 = b.op1("Sub", [b.scalar(1, dt), b.op1("Pow", [b.scalar(beta2, dt), t])]);
            // PyTorch: p −= lr/bc1 · m / (√v/√bc2 + ε). Multiplying through by √bc2 moves both
            // corrections onto scalars: p −= (lr·√bc2/bc1) · m / (√v + ε·√bc2) — one full-size pass fewer.
            const sqrtBc2 = b.op1("Sqrt", [bc2]);
            // AdamW's decay factor 1 − lr·wd, a scalar shared like the corrections.
            const keep = decoupledDecay === 0 ? undefined : b.op1("Sub", [b.scalar(1, dt), b.op1("Mul", [lr, b.scalar(decoupledDecay, dt)])]);
            return { stepSize: b.op1("Mul", [b.op1("Div", [lr, bc1]), sqrtBc2]), epsHat: b.op1("Mul", [b.scalar(eps, dt), sqrtBc2]), keep };
          });
        }
        const { stepSize, epsHat, keep } = corrections;
        const denom = b.op1("Add", [b.op1("Sqrt", [v2]), epsHat]);
        // Emitted after v's update, so that onnxruntime (which runs a node's later-emitted input
        // first) computes m's update first: v's temporaries are then made next to m's new value only,
        // not m's next to v's new value and the denominator (a lower peak, docs/performance.md).
        // The same values either way.
        const m2 = b.op1("Add", [b.op1("Mul", [m, b.scalar(beta1, dt)]), b.op1("Mul", [g, b.scalar(1 - beta1, dt)])]);
        const decayed = keep ? b.op1("Mul", [p, keep]) : p;
        const p2 = b.op1("Sub", [decayed, b.op1("Mul", [stepSize, b.op1("Div", [m2, denom])])]);
        return { param: p2, state: new Map([[m.name, m2], [v.name, v2]]) };
      };
    },
  };
}
