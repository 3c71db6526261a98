/** Elementwise unary ops: same shape out as in. Activations keep their VJPs here. */
import type { GraphBuilder, Node } from "../ir";
import { Attrs, OpDef } from "../op";
import { DType, dtypeFromCode, Value } from "../types";

type Vjp = (b: GraphBuilder, node: Node, dY: Value) => Value;

function unary(type: string, vjp?: Vjp, attrs: OpDef["attrs"] = {}, dtype?: (attrs: Attrs) => DType): OpDef {
  return {
    type,
    attrs,
    infer([x], a, ctx) {
      if (!x) return ctx.fail("needs an input");
      return [{ dtype: dtype ? dtype(a) : x.dtype, shape: x.shape }];
    },
    vjp: vjp && ((b, node, [dY]) => (dY ? [vjp(b, node, dY)] : [])),
  };
}

const out = (node: Node) => node.outputs[0];
const inp = (node: Node) => node.inputs[0]!;

// Where(y > 0, dY, 0): the subgradient at 0 is 0, as in PyTorch. A MaxPool over y folds this
// mask into its own gradient (the ReluMaxPool pair rule, pool.ts).
export const Relu = unary("Relu", (b, node, dY) => b.op1("Where", [b.op1("Greater", [out(node), b.scalar(0, dY.dtype)]), dY, b.scalar(0, dY.dtype)]));

export const Sigmoid = unary("Sigmoid", (b, node, dY) => {
  const y = out(node);
  return b.op1("Mul", [dY, b.op1("Mul", [y, b.op1("Sub", [b.scalar(1, y.dtype), y])])]);
});

export const Tanh = unary("Tanh", (b, node, dY) => {
  const y = out(node);
  return b.op1("Mul", [dY, b.op1("Sub", [b.scalar(1, y.dtype), b.op1("Mul", [y, y])])]);
});

export const Exp = unary("Exp", (b, node, dY) => b.op1("Mul", [dY, out(node)]));
export const Log = unary("Log", (b, node, dY) => b.op1("Div", [dY, inp(node)]));
export const Neg = unary("Neg", (b, _node, dY) => b.op1("Neg", [dY]));
export const Sqrt = unary("Sqrt", (b, node, dY) => b.op1("Div", [dY, b.op1("Mul", [out(node), b.scalar(2, dY.dtype)])]));
export const Identity = unary("Identity", (_b, _node, dY) => dY);
export const Abs = unary("Abs", (b, node, dY) => b.op1("Mul", [dY, b.op1("Sign", [inp(node)])]));
export const Sign = unary("Sign");
export const Round = unary("Round");
export const Ceil = unary("Ceil");
/** Clip(x, min, max): the bounds are optional scalar inputs of x's type. */
export const Clip: OpDef = {
  type: "Clip",
  attrs: {},
  infer([x, ...bounds], _a, ctx) {
    if (!x) return ctx.fail("needs an input");
    for (const v of bounds) {
      if (v && (v.shape.length !== 0 || v.dtype !== x.dtype)) return ctx.fail(`bounds must be ${x.dtype} scalars, got ${v.dtype}[${v.shape.join(",")}]`);
    }
    return [{ dtype: x.dtype, shape: x.shape }];
  },
};
export const Not = unary("Not");

export const Cast = unary("Cast", undefined, { to: "int" }, (a) => {
  const to = dtypeFromCode(a.to as number);
  if (!to) throw new Error(`internal: Cast to unsupported type ${String(a.to)}`);
  return to;
});
