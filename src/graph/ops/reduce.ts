/** Reductions. Opset 17: ReduceSum takes axes as an input, ReduceMean as an attribute. */
import { OpDef, RuleContext } from "../op";
import { Dim, DTYPE_CODE, Shape, TensorType } from "../types";

function reduced(x: TensorType, axes: readonly Dim[] | undefined, keepdims: boolean, ctx: RuleContext): Dim[] {
  const rank = x.shape.length;
  const norm = (axes ?? x.shape.map((_, i) => i)).map((a) => {
    if (typeof a !== "number" || a < -rank || a >= rank) return ctx.fail(`axis ${a} is out of range for rank ${rank}`);
    return a < 0 ? a + rank : a;
  });
  const out: Dim[] = [];
  x.shape.forEach((d, i) => {
    if (!norm.includes(i)) out.push(d);
    else if (keepdims) out.push(1);
  });
  return out;
}

export const ReduceSum: OpDef = {
  type: "ReduceSum",
  attrs: { keepdims: "int" },
  nondiff: [1],
  infer([x, axes], attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    const values: Shape | undefined = axes ? ctx.shapeValue(1) : undefined;
    if (axes && !values) return ctx.fail("axes must be constant");
    return [{ dtype: x.dtype, shape: reduced(x, values, attrs.keepdims !== 0, ctx) }];
  },
  vjp(b, node, [dY]) {
    const x = node.inputs[0]!;
    if (!dY) return [];
    const axes = node.inputs[1] ? (Array.from(b.initializers.get(node.inputs[1].name)!.data as BigInt64Array, Number)) : x.shape.map((_, i) => i);
    const kept = node.attrs.keepdims === 0 ? b.op1("Unsqueeze", [dY, b.ints(axes)]) : dY;
    return [b.op1("Expand", [kept, b.op1("Shape", [x])])];
  },
};

/** Reductions whose axes are an attribute in opset 17. */
function attributeAxesReduce(type: string, vjp?: OpDef["vjp"]): OpDef {
  return {
    type,
    attrs: { axes: "ints", keepdims: "int" },
    infer([x], attrs, ctx) {
      if (!x) return ctx.fail("needs an input");
      return [{ dtype: x.dtype, shape: reduced(x, attrs.axes as number[] | undefined, attrs.keepdims !== 0, ctx) }];
    },
    vjp,
  };
}

/**
 * ReduceMean's gradient spreads dY evenly over each reduced group: Expand(dY) / (group size),
 * the size counted at run time (Size(x) / Size(y)) since the batch may be among the axes.
 */
export const ReduceMean = attributeAxesReduce("ReduceMean", (b, node, [dY]) => {
  const x = node.inputs[0]!;
  if (!dY) return [];
  const axes = (node.attrs.axes as number[] | undefined) ?? x.shape.map((_, i) => i);
  const kept = node.attrs.keepdims === 0 ? b.op1("Unsqueeze", [dY, b.ints(axes)]) : dY;
  const group = b.op1("Div", [b.op1("Size", [x]), b.op1("Size", [node.outputs[0]])]);
  return [b.op1("Div", [b.op1("Expand", [kept, b.op1("Shape", [x])]), b.op1("Cast", [group], { to: DTYPE_CODE[x.dtype] })])];
});
export const ReduceMax = attributeAxesReduce("ReduceMax");

export const Unsqueeze: OpDef = {
  type: "Unsqueeze",
  attrs: {},
  nondiff: [1],
  infer([x], _attrs, ctx) {
    const axes = ctx.shapeValue(1);
    if (!x || !axes) return ctx.fail("needs an input and constant axes");
    const rank = x.shape.length + axes.length;
    const norm = axes.map((a) => ((a as number) < 0 ? (a as number) + rank : (a as number)));
    const out: Dim[] = [];
    let j = 0;
    for (let i = 0; i < rank; i++) out.push(norm.includes(i) ? 1 : x.shape[j++]);
    return [{ dtype: x.dtype, shape: out }];
  },
};
