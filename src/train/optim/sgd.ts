/**
 * SGD with momentum, PyTorch semantics (torch.optim.SGD, dampening 0): buf = μ·buf + g,
 * p −= lr·buf (or lr·(g + μ·buf) with Nesterov). With a zero initial buffer the first step
 * equals PyTorch's buf = g.
 */
import type { Optimizer } from "./optimizer";
import { withWeightDecay } from "./optimizer";

export interface SgdConfig {
  momentum?: number;
  weightDecay?: number;
  nesterov?: boolean;
}

export function sgd(cfg: SgdConfig = {}): Optimizer {
  const momentum = cfg.momentum ?? 0;
  const wd = cfg.weightDecay ?? 0;
  const nesterov = cfg.nesterov ?? false;
  return {
    name: "sgd",
    config: { momentum, weightDecay: wd, nesterov },
    stateFor: (param) => (momentum === 0 ? [] : [{ name: `${param}.momentum_buffer`, param }]),
    updates: ({ b, lr, state }) => (p, grad) => {
      const dt = p.dtype;
      const g = withWeightDecay(b, grad, p, wd);
      if (momentum === 0) return { param: b.op1("Sub", [p, b.op1("Mul", [lr, g])]), state: new Map() };
      const buf = state.get(`${p.name}.momentum_buffer`)!;
      const buf2 = b.op1("Add", [b.op1("Mul", [buf, b.scalar(momentum, dt)]), g]);
      const direction = nesterov ? b.op1("Add", [g, b.op1("Mul", [buf2, b.scalar(momentum, dt)])]) : buf2;
      return { param: b.op1("Sub", [p, b.op1("Mul", [lr, direction])]), state: new Map([[buf.name, buf2]]) };
    },
  };
}
