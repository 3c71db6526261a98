/** Gemm (Linear layers: Y = X·Wᵀ + b with transB=1, PyTorch's [out, in] layout) and MatMul (2-D and batched). */
import { OpDef } from "../op";
import { formatShape, Value } from "../types";
import { broadcastShapes } from "./broadcast";

export const Gemm: OpDef = {
  type: "Gemm",
  attrs: { alpha: "float", beta: "float", transA: "int", transB: "int" },
  infer([a, w, c], attrs, ctx) {
    if (!a || !w) return ctx.fail("needs two inputs");
    if (a.shape.length !== 2 || w.shape.length !== 2) {
      ctx.fail(`inputs must be matrices, got ${formatShape(a.shape)} and ${formatShape(w.shape)}`);
    }
    const [m, k] = attrs.transA === 1 ? [a.shape[1], a.shape[0]] : [a.shape[0], a.shape[1]];
    const [kw, n] = attrs.transB === 1 ? [w.shape[1], w.shape[0]] : [w.shape[0], w.shape[1]];
    if (typeof k === "number" && typeof kw === "number" && k !== kw) {
      ctx.fail(`input has ${k} features, weight expects ${kw} (weight ${formatShape(w.shape)}${attrs.transB === 1 ? ", transB" : ""})`);
    }
    if (c && c.shape.length >= 1) {
      const last = c.shape[c.shape.length - 1];
      if (typeof last === "number" && typeof n === "number" && last !== 1 && last !== n) {
        ctx.fail(`bias has ${last} entries, output has ${n} features`);
      }
    }
    return [{ dtype: a.dtype, shape: [m, n] }];
  },
  vjp(b, node, [dY], wanted) {
    const [a, w, c] = node.inputs;
    if (!dY || !a || !w) return [];
    const alpha = (node.attrs.alpha as number | undefined) ?? 1;
    const beta = (node.attrs.beta as number | undefined) ?? 1;
    if (alpha !== 1 || beta !== 1 || node.attrs.transA === 1) throw new Error("internal: Gemm VJP handles alpha=beta=1, transA=0");
    const transB = node.attrs.transB === 1;
    // Y = A·B' (B' = Bᵀ when transB): dA = dY·B'ᵀ, dB' = Aᵀ·dY, so dB = dYᵀ·A when transB.
    const dA = wanted[0] ? b.op1("Gemm", [dY, w], transB ? {} : { transB: 1 }) : undefined;
    const dW = wanted[1] ? (transB ? b.op1("Gemm", [dY, a], { transA: 1 }) : b.op1("Gemm", [a, dY], { transA: 1 })) : undefined;
    // The bias gradient is dY itself; the autodiff driver sums it down to C's shape.
    return [dA, dW, c && wanted[2] ? dY : undefined];
  },
};

/**
 * ONNX MatMul on operands of rank ≥ 2: [...a, M, K]·[...b, K, N] → [...broadcast(a, b), M, N].
 * 1-D operands (numpy's vector promotion) are not supported.
 */
export const MatMul: OpDef = {
  type: "MatMul",
  attrs: {},
  infer([a, w], _attrs, ctx) {
    if (!a || !w) return ctx.fail("needs two inputs");
    if (a.shape.length < 2 || w.shape.length < 2) {
      ctx.fail(`operands must have rank 2 or more, got ${formatShape(a.shape)} and ${formatShape(w.shape)}`);
    }
    const [m, k] = a.shape.slice(-2);
    const [kw, n] = w.shape.slice(-2);
    if (typeof k === "number" && typeof kw === "number" && k !== kw) {
      ctx.fail(`inner dimensions differ: ${formatShape(a.shape)} · ${formatShape(w.shape)} (${k} vs ${kw})`);
    }
    const batch = broadcastShapes([a.shape.slice(0, -2), w.shape.slice(0, -2)], ctx, `batch dims of ${formatShape(a.shape)} and ${formatShape(w.shape)}`);
    return [{ dtype: a.dtype, shape: [...batch, m, n] }];
  },
  vjp(b, node, [dY], wanted) {
    const [a, w] = node.inputs;
    if (!dY || !a || !w) return [];
    if (a.shape.length === 2 && w.shape.length === 2) {
      return [
        wanted[0] ? b.op1("Gemm", [dY, w], { transB: 1 }) : undefined,
        wanted[1] ? b.op1("Gemm", [a, dY], { transA: 1 }) : undefined,
      ];
    }
    // dA = dY·Bᵀ, dB = Aᵀ·dY over the broadcast batch; the autodiff driver sums each back down
    // to its operand's batch dims.
    const t = (v: Value) => b.op1("Transpose", [v], { perm: [...Array.from({ length: v.shape.length - 2 }, (_, i) => i), v.shape.length - 1, v.shape.length - 2] });
    return [wanted[0] ? b.op1("MatMul", [dY, t(w)]) : undefined, wanted[1] ? b.op1("MatMul", [t(a), dY]) : undefined];
  },
};
