/** Ops that move or reinterpret data without arithmetic: Flatten, Reshape, Transpose, Slice, Concat, Pad, Expand, Shape, Size, ConstantOfShape. */
import type { GraphBuilder } from "../ir";
import { GradientError } from "../errors";
import { OpDef, RuleContext } from "../op";
import { Dim, dimProduct, formatShape, isStatic, Shape, splitSymbol, TensorData, Value } from "../types";
import { broadcastShapes } from "./broadcast";
import { constantOfShapeForWebGpu } from "./layout.webgpu";

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
  const mismatch = () => ctx.fail(`cannot reshape ${formatShape(input)} (${total} elements) to ${formatShape(target)}`);
  if (minus < 0) {
    // A fixed target must hold as many elements as the input, where both counts are known
    // (static, or the same symbol); anything else stays lenient.
    const wanted = dimProduct(dims);
    if (typeof total === "number" && typeof wanted === "number") {
      if (total !== wanted) return mismatch();
    } else if (typeof total === "string" && typeof wanted === "string") {
      const [t, w] = [splitSymbol(total), splitSymbol(wanted)];
      if (t.sym === w.sym && t.factor !== w.factor) return mismatch();
    }
    return dims;
  }
  const known = dimProduct(dims.filter((_, i) => i !== minus));
  let inferred: Dim;
  if (typeof total === "number" && typeof known === "number") {
    if (known === 0 || total % known !== 0) return mismatch();
    inferred = total / known;
  } else if (typeof total === "string" && typeof known === "number") {
    const s = splitSymbol(total);
    if (known === 0 || s.factor % known !== 0) return ctx.fail(`cannot reshape ${formatShape(input)} to ${formatShape(target)}`);
    inferred = s.factor === known ? s.sym : `${s.sym}*${s.factor / known}`;
  } else if (typeof total === "string" && typeof known === "string" && splitSymbol(total).sym === splitSymbol(known).sym) {
    // e.g. [N,256,6,6] to [0,−1]: N·9216 / N = 9216
    const [t, k] = [splitSymbol(total), splitSymbol(known)];
    if (k.factor === 0 || t.factor % k.factor !== 0) return mismatch();
    inferred = t.factor / k.factor;
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
    if (perm.some((p, i) => !Number.isInteger(p) || p < 0 || p >= perm.length || perm.indexOf(p) !== i)) {
      return ctx.fail(`perm ${formatShape(perm)} is not a permutation of 0..${perm.length - 1}`);
    }
    return [{ dtype: x.dtype, shape: perm.map((p) => x.shape[p]) }];
  },
  vjp(b, node, [dY]) {
    if (!dY) return [];
    const perm = node.attrs.perm as number[];
    const inverse = perm.map((_, i) => perm.indexOf(i));
    return [b.op1("Transpose", [dY], { perm: inverse })];
  },
};

/** ONNX Slice semantics for one static axis: clamped start/end, positive or negative step. */
function sliceLength(size: number, start: number, end: number, step: number): number {
  const norm = (v: number) => (v < 0 ? v + size : v);
  if (step > 0) {
    const s = Math.max(0, Math.min(size, norm(start)));
    const e = Math.max(0, Math.min(size, norm(end)));
    return Math.max(0, Math.ceil((e - s) / step));
  }
  const s = Math.max(-1, Math.min(size - 1, norm(start)));
  const e = Math.max(-1, Math.min(size - 1, norm(end)));
  return Math.max(0, Math.ceil((s - e) / -step));
}

export const Slice: OpDef = {
  type: "Slice",
  attrs: {},
  nondiff: [1, 2, 3, 4],
  infer([x, , , axesInput, stepsInput], _attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    const starts = ctx.shapeValue(1);
    const ends = ctx.shapeValue(2);
    // Starts and ends may be computed (a slice of the batch): their axes still must be known.
    const axes = axesInput ? ctx.shapeValue(3) : (starts ?? ends)?.map((_, i) => i);
    const steps = stepsInput ? ctx.shapeValue(4) : axes?.map(() => 1);
    if (!axes || !steps) return ctx.fail("alexc supports Slice with constant axes and steps");
    const shape = [...x.shape];
    axes.forEach((axis, i) => {
      const a = (axis as number) < 0 ? (axis as number) + shape.length : (axis as number);
      if (a < 0 || a >= shape.length) return ctx.fail(`axis ${axis} is out of range for rank ${shape.length}`);
      const size = shape[a];
      if (steps[i] === 0) return ctx.fail("steps must be non-zero");
      const [start, end] = [starts?.[i], ends?.[i]];
      // A length that depends on a symbolic size or on computed bounds gets a name of its own.
      shape[a] =
        typeof size === "number" && typeof start === "number" && typeof end === "number" ? sliceLength(size, start, end, steps[i] as number) : `${ctx.node}_${a}`;
    });
    return [{ dtype: x.dtype, shape }];
  },
  // A slice of a known 1-D value with constant bounds along axis 0, step 1 (a shape's batch).
  value(node, input) {
    // null: an input that is there but whose value is not known; undefined: left out (its default).
    const [data, starts, ends, axes, steps] = [0, 1, 2, 3, 4].map((k) => (node.inputs[k] ? (input(k) ?? null) : undefined));
    const whole = axes === undefined || (axes?.length === 1 && axes[0] === 0);
    const unit = steps === undefined || (steps?.length === 1 && steps[0] === 1);
    if (!data || starts?.length !== 1 || ends?.length !== 1 || !whole || !unit) return undefined;
    const at = (i: number | string) => (typeof i !== "number" ? NaN : Math.min(Math.max(i < 0 ? i + data.length : i, 0), data.length));
    const [from, to] = [at(starts[0]), at(ends[0])];
    return Number.isNaN(from) || Number.isNaN(to) ? undefined : data.slice(from, Math.max(from, to));
  },
};

export const Concat: OpDef = {
  type: "Concat",
  attrs: { axis: "int" },
  infer(inputs, attrs, ctx) {
    const xs = inputs.filter((v): v is NonNullable<typeof v> => v !== undefined);
    if (xs.length === 0) return ctx.fail("needs inputs");
    const first = xs[0].shape;
    const rank = first.length;
    const a = (attrs.axis as number | undefined) ?? 0;
    if (a < -rank || a >= rank) return ctx.fail(`axis ${a} is out of range for rank ${rank}`);
    const axis = a < 0 ? a + rank : a;
    for (const { shape } of xs.slice(1)) {
      const pair = `inputs ${formatShape(first)} and ${formatShape(shape)}`;
      if (shape.length !== rank) return ctx.fail(`${pair} differ in rank (${rank} vs ${shape.length})`);
      const i = shape.findIndex((d, j) => j !== axis && d !== first[j]);
      if (i >= 0) return ctx.fail(`${pair} differ at axis ${i} (${first[i]} vs ${shape[i]}); only the concat axis ${axis} may differ`);
    }
    const shape = [...first];
    shape[axis] = xs.reduce<Dim>((acc, x) => (typeof acc === "number" && typeof x.shape[axis] === "number" ? acc + (x.shape[axis] as number) : `${ctx.node}_${axis}`), 0);
    return [{ dtype: xs[0].dtype, shape }];
  },
  // Each input's gradient is its slice of dY along the axis (static sizes only).
  vjp(b, node, [dY], wanted) {
    if (!dY) return [];
    const rank = dY.shape.length;
    const a = (node.attrs.axis as number | undefined) ?? 0;
    const axis = a < 0 ? a + rank : a;
    let start = 0;
    return node.inputs.map((x, k) => {
      const size = x?.shape[axis];
      if (typeof size !== "number") {
        if (!wanted.slice(k).some(Boolean)) return undefined;
        throw new GradientError(`Concat '${node.name}': no gradient through a symbolic concat axis (input ${k} has ${formatShape(x?.shape ?? [])})`, node.loc);
      }
      const g = wanted[k] ? b.op1("Slice", [dY, b.ints([start]), b.ints([start + size]), b.ints([axis])]) : undefined;
      start += size;
      return g;
    });
  },
  // 1-D Concat of known values: a shape assembled from parts.
  value(node, input) {
    if (node.attrs.axis !== 0) return undefined;
    const parts = node.inputs.map((v, k) => (v ? input(k) : undefined));
    return parts.every((x) => x !== undefined) ? parts.flat() : undefined;
  },
};

export const Pad: OpDef = {
  type: "Pad",
  attrs: { mode: "string" },
  nondiff: [1, 2],
  infer([x], _attrs, ctx) {
    const pads = ctx.shapeValue(1) as number[] | undefined;
    if (!x || !pads) return ctx.fail("needs an input and constant pads");
    const r = x.shape.length;
    if (pads.length !== 2 * r) return ctx.fail(`pads has ${pads.length} entries, rank ${r} needs ${2 * r}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === "number" ? d + pads[i] + pads[i + r] : pads[i] + pads[i + r] === 0 ? d : `${ctx.node}_${i}`)) }];
  },
};

/** Range(start, limit, delta): 1-D, its length known only when all three are constants. */
export const Range: OpDef = {
  type: "Range",
  attrs: {},
  infer([start], _attrs, ctx) {
    if (!start) return ctx.fail("needs start, limit and delta");
    return [{ dtype: start.dtype, shape: [`${ctx.node}_length`] }];
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
  // x's dims, possibly symbolic: known from its type alone.
  value: (node) => node.inputs[0]?.shape,
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
  lowerings: { webgpu: constantOfShapeForWebGpu },
  infer(_inputs, attrs, ctx) {
    const shape = ctx.shapeValue(0);
    if (!shape) return ctx.fail("the shape must be known at build time");
    const value = attrs.value as TensorData | undefined;
    return [{ dtype: value ? value.dtype : "float32", shape }];
  },
};

/** Reshapes `v` to `like`'s shape: static where only the batch is symbolic, else via Shape. */
export function reshapeLike(b: GraphBuilder, v: Value, like: Value): Value {
  const rest = like.shape.slice(1);
  if (isStatic(rest) && like.shape.length > 0) {
    const lead = typeof like.shape[0] === "number" ? (like.shape[0] as number) : -1;
    return b.op1("Reshape", [v, b.ints([lead, ...rest])]);
  }
  return b.op1("Reshape", [v, b.op1("Shape", [like])]);
}
