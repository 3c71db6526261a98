/** Ops that move or reinterpret data without arithmetic: Flatten, Reshape, Transpose, Slice, Expand, Shape, Size, ConstantOfShape. */
import { OpDef, RuleContext } from "../op";
import { Dim, dimProduct, formatShape, Shape, splitSymbol, TensorData } from "../types";
import { broadcastShapes } from "./broadcast";
import { reshapeLike } from "./pool";

export const Flatten: OpDef = {
  type: "Flatten",
  attrs: { axis: "int" },
  infer([x], attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    const axis = (attrs.axis as number | undefined) ?? 1;
    if (axis < 0 || axis > x.shape.length) return ctx.fail(`axis ${axis} is out of range for rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: [dimProduct(x.shape.slice(0, axis)), dimProduct(x.shape.slice(axis))] }];
  },
  vjp(b, node, [dY]) {
    return dY ? [reshapeLike(b, dY, node.inputs[0]!)] : [];
  },
};

/** Resolves a Reshape target (0 = copy, −1 = infer), following symbolic dims. */
function reshapeTarget(input: Shape, target: Shape, ctx: RuleContext): Dim[] {
  const dims = target.map((d, i) => (d === 0 ? input[i] : d));
  const minus = dims.findIndex((d) => d === -1);
  const total = dimProduct(input);
  if (minus < 0) return dims;
  const known = dimProduct(dims.filter((_, i) => i !== minus));
  let inferred: Dim;
  if (typeof total === "number" && typeof known === "number") {
    if (known === 0 || total % known !== 0) return ctx.fail(`cannot reshape ${formatShape(input)} (${total} elements) to ${formatShape(target)}`);
    inferred = total / known;
  } else if (typeof total === "string" && typeof known === "number") {
    const s = splitSymbol(total);
    if (s.factor % known !== 0) return ctx.fail(`cannot reshape ${formatShape(input)} to ${formatShape(target)}`);
    inferred = s.factor === known ? s.sym : `${s.sym}*${s.factor / known}`;
  } else {
    inferred = `${ctx.node}_${minus}`;
  }
  return dims.map((d, i) => (i === minus ? inferred : d));
}

export const Reshape: OpDef = {
  type: "Reshape",
  attrs: {},
  nondiff: [1],
  infer([x, s], _attrs, ctx) {
    if (!x || !s) return ctx.fail("needs data and a shape");
    const target = ctx.shapeValue(1);
    const rank = s.shape[0];
    if (!target) {
      if (typeof rank !== "number") return ctx.fail("the target shape's rank must be known");
      return [{ dtype: x.dtype, shape: Array.from({ length: rank }, (_, i) => `${ctx.node}_${i}`) }];
    }
    return [{ dtype: x.dtype, shape: reshapeTarget(x.shape, target, ctx) }];
  },
  vjp(b, node, [dY]) {
    return dY ? [reshapeLike(b, dY, node.inputs[0]!)] : [];
  },
};

export const Transpose: OpDef = {
  type: "Transpose",
  attrs: { perm: "ints" },
  infer([x], attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    const perm = (attrs.perm as number[] | undefined) ?? x.shape.map((_, i) => x.shape.length - 1 - i);
    if (perm.length !== x.shape.length) return ctx.fail(`perm ${formatShape(perm)} does not match rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  vjp(b, node, [dY]) {
    if (!dY) return [];
    const perm = node.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [b.op1("Transpose", [dY], { perm: inverse })];
  },
};

export const Slice: OpDef = {
  type: "Slice",
  attrs: {},
  infer([x], _attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    const starts = ctx.shapeValue(1);
    const ends = ctx.shapeValue(2);
    const axes = ctx.shapeValue(3) ?? starts?.map((_, i) => i);
    const steps = ctx.shapeValue(4);
    if (!starts || !ends || !axes || steps) return ctx.fail("alexc supports Slice with constant starts, ends, axes and unit steps");
    const shape = [...x.shape];
    axes.forEach((axis, i) => {
      const a = (axis as number) < 0 ? (axis as number) + shape.length : (axis as number);
      const size = shape[a];
      if (typeof size !== "number") return ctx.fail(`cannot slice symbolic axis ${a}`);
      const clamp = (v: number) => Math.max(0, Math.min(size, v < 0 ? v + size : v));
      shape[a] = Math.max(0, clamp(ends[i] as number) - clamp(starts[i] as number));
    });
    return [{ dtype: x.dtype, shape }];
  },
};

export const Expand: OpDef = {
  type: "Expand",
  attrs: {},
  nondiff: [1],
  infer([x], _attrs, ctx) {
    const target = ctx.shapeValue(1);
    if (!x || !target) return ctx.fail("needs data and a known shape");
    return [{ dtype: x.dtype, shape: broadcastShapes([x.shape, target], ctx) }];
  },
};

export const Shape_: OpDef = {
  type: "Shape",
  attrs: {},
  infer([x], _attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    return [{ dtype: "int64", shape: [x.shape.length] }];
  },
};

export const Size: OpDef = {
  type: "Size",
  attrs: {},
  infer([x], _attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    return [{ dtype: "int64", shape: [] }];
  },
};

export const ConstantOfShape: OpDef = {
  type: "ConstantOfShape",
  attrs: { value: "tensor" },
  infer(_inputs, attrs, ctx) {
    const shape = ctx.shapeValue(0);
    if (!shape) return ctx.fail("the shape must be known at build time");
    const value = attrs.value as TensorData | undefined;
    return [{ dtype: value ? value.dtype : "float32", shape }];
  },
};

