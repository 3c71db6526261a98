/**
 * Elementwise ops with numpy broadcasting. VJP rules return full-shape cotangents; the
 * autodiff driver sums them back down to each input's shape (undoing the broadcast).
 */
import type { GraphBuilder, Node } from "../ir";
import { OpDef } from "../op";
import type { DType, Value } from "../types";
import { broadcastShapes } from "./broadcast";
import { greaterForWebGpu, whereForWebGpu } from "./binary.webgpu";

type Vjp = (b: GraphBuilder, node: Node, dY: Value, wanted: readonly boolean[]) => (Value | undefined)[];

function elementwise(type: string, vjp?: Vjp, resultType?: DType): OpDef {
  return {
    type,
    attrs: {},
    infer(inputs, _attrs, ctx) {
      const present = inputs.filter((v): v is NonNullable<typeof v> => v !== undefined);
      const arity = type === "Where" ? 3 : 2;
      if (present.length !== inputs.length || inputs.length !== arity) return ctx.fail(`needs ${arity} inputs`);
      const data = type === "Where" ? present.slice(1) : present;
      if (new Set(data.map((v) => v.dtype)).size > 1) return ctx.fail(`input types differ: ${data.map((v) => v.dtype).join(" vs ")}`);
      return [{ dtype: resultType ?? data[0].dtype, shape: broadcastShapes(present.map((v) => v.shape), ctx) }];
    },
    vjp: vjp && ((b, node, [dY], wanted) => (dY ? vjp(b, node, dY, wanted) : [])),
    nondiff: type === "Where" ? [0] : undefined,
  };
}

const [A, B] = [0, 1];

export const Add = elementwise("Add", (_b, _n, dY, w) => [w[A] ? dY : undefined, w[B] ? dY : undefined]);
export const Sub = elementwise("Sub", (b, _n, dY, w) => [w[A] ? dY : undefined, w[B] ? b.op1("Neg", [dY]) : undefined]);
export const Mul = elementwise("Mul", (b, n, dY, w) => [
  w[A] ? b.op1("Mul", [dY, n.inputs[B]!]) : undefined,
  w[B] ? b.op1("Mul", [dY, n.inputs[A]!]) : undefined,
]);
export const Div = elementwise("Div", (b, n, dY, w) => [
  w[A] ? b.op1("Div", [dY, n.inputs[B]!]) : undefined,
  // d(a/b)/db = −(a/b)/b
  w[B] ? b.op1("Neg", [b.op1("Div", [b.op1("Mul", [dY, n.outputs[0]]), n.inputs[B]!])]) : undefined,
]);
export const Pow = elementwise("Pow");
export const Greater: OpDef = { ...elementwise("Greater", undefined, "bool"), lowerings: { webgpu: greaterForWebGpu } };
export const Less = elementwise("Less", undefined, "bool");
export const Equal = elementwise("Equal", undefined, "bool");
export const And = elementwise("And");
export const Or = elementwise("Or");
export const Where: OpDef = {
  ...elementwise("Where", (b, n, dY, w) => {
    const zero = b.scalar(0, dY.dtype);
    const cond = n.inputs[0]!;
    return [undefined, w[1] ? b.op1("Where", [cond, dY, zero]) : undefined, w[2] ? b.op1("Where", [cond, zero, dY]) : undefined];
  }),
  lowerings: { webgpu: whereForWebGpu },
};
