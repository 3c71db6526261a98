/**
 * Conv and its transpose. The VJP is standard ONNX only (onnxruntime-node has no ConvGrad):
 * dX = ConvTranspose(dY, W); dW = Conv of X by dY with the forward strides as dilations,
 * on batch-and-channel-swapped tensors; dB = ReduceSum(dY).
 */
import type { GraphBuilder, Node } from "../ir";
import { Attrs, OpDef, RuleContext } from "../op";
import { isStatic, TensorType, Value } from "../types";
import { transposeOutputPadding, windowFromAttrs, windowOutput } from "./window";

const CONV_ATTRS = {
  kernel_shape: "ints",
  strides: "ints",
  pads: "ints",
  dilations: "ints",
  group: "int",
} as const;

function checkRank(x: TensorType, w: TensorType, ctx: RuleContext): void {
  if (x.shape.length < 3) return ctx.fail(`input must be [N, C, spatial...], got rank ${x.shape.length} [${x.shape.join(",")}]`);
  if (w.shape.length !== x.shape.length) {
    ctx.fail(`weight rank ${w.shape.length} does not match input rank ${x.shape.length}`);
  }
}

export const Conv: OpDef = {
  type: "Conv",
  attrs: CONV_ATTRS,
  infer([x, w, b], attrs, ctx) {
    if (!x || !w) return ctx.fail("needs an input and a weight");
    checkRank(x, w, ctx);
    const group = (attrs.group as number | undefined) ?? 1;
    const [n, c, ...spatial] = x.shape;
    const [m, cPerGroup, ...kernel] = w.shape;
    if (typeof c === "number" && typeof cPerGroup === "number" && c !== cPerGroup * group) {
      ctx.fail(
        group === 1
          ? `input has ${c} channels, weight expects ${cPerGroup}`
          : `input has ${c} channels, weight expects ${cPerGroup}×${group} groups = ${cPerGroup * group}`,
      );
    }
    if (b && b.shape.length === 1 && typeof b.shape[0] === "number" && b.shape[0] !== m) {
      ctx.fail(`bias has ${b.shape[0]} entries, weight has ${m} output channels`);
    }
    const win = windowFromAttrs(attrs, spatial.length, kernel as number[]);
    return [{ dtype: x.dtype, shape: [n, m, ...windowOutput(spatial, win, ctx)] }];
  },
  vjp(b, node, [dY], wanted) {
    const [x, w, bias] = node.inputs as Value[];
    if (!dY) return [];
    const rank = x.shape.length - 2;
    const win = windowFromAttrs(node.attrs, rank, w.shape.slice(2) as number[]);
    const group = (node.attrs.group as number | undefined) ?? 1;
    if (group !== 1 && wanted[1]) throw new Error("internal: grouped Conv weight gradient is not supported");
    const dX = wanted[0] ? convInputGrad(b, dY, w, x, win, node.attrs) : undefined;
    const dW = wanted[1] ? convWeightGrad(b, x, dY, w, win) : undefined;
    const dB = bias && wanted[2] ? b.op1("ReduceSum", [dY, b.ints([0, ...range(2, rank + 2)])], { keepdims: 0 }) : undefined;
    return [dX, dW, dB];
  },
};

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

function convInputGrad(b: GraphBuilder, dY: Value, w: Value, x: Value, win: ReturnType<typeof windowFromAttrs>, attrs: Attrs): Value {
  const inSpatial = x.shape.slice(2);
  const outSpatial = dY.shape.slice(2);
  if (!isStatic(inSpatial) || !isStatic(outSpatial)) throw new Error("internal: Conv input gradient needs static spatial dims");
  return b.op1("ConvTranspose", [dY, w], {
    kernel_shape: win.kernel,
    strides: win.strides,
    pads: win.pads,
    dilations: win.dilations,
    group: (attrs.group as number | undefined) ?? 1,
    output_padding: transposeOutputPadding(inSpatial, outSpatial, win),
  });
}

function convWeightGrad(b: GraphBuilder, x: Value, dY: Value, w: Value, win: ReturnType<typeof windowFromAttrs>): Value {
  // dW[co,ci,i,j] = Σ_n,y,x dY[n,co,y,x]·Xpad[n,ci,y·s+i·d,x·s+j·d]: a conv whose "batch" is ci,
  // whose "channels" are n, and whose kernel dY is dilated by the forward stride.
  const rank = x.shape.length;
  const swap = [1, 0, ...range(2, rank)];
  const xt = b.op1("Transpose", [x], { perm: swap });
  const dyt = b.op1("Transpose", [dY], { perm: swap });
  const corr = b.op1("Conv", [xt, dyt], { strides: win.dilations, dilations: win.strides, pads: win.pads });
  let dW = b.op1("Transpose", [corr], { perm: swap });
  const got = dW.shape.slice(2);
  const kernel = w.shape.slice(2) as number[];
  if (got.some((d, i) => d !== kernel[i])) {
    // The correlation also covers offsets past the kernel (rows the last window never reached).
    const axes = range(2, rank);
    dW = b.op1("Slice", [dW, b.ints(axes.map(() => 0)), b.ints(kernel), b.ints(axes)]);
  }
  return dW;
}

export const ConvTranspose: OpDef = {
  type: "ConvTranspose",
  attrs: { ...CONV_ATTRS, output_padding: "ints" },
  infer([x, w], attrs, ctx) {
    if (!x || !w) return ctx.fail("needs an input and a weight");
    checkRank(x, w, ctx);
    const group = (attrs.group as number | undefined) ?? 1;
    const [n, c, ...spatial] = x.shape;
    const [cin, mPerGroup, ...kernel] = w.shape;
    if (typeof c === "number" && c !== cin) return ctx.fail(`input has ${c} channels, weight expects ${cin}`);
    const win = windowFromAttrs(attrs, spatial.length, kernel as number[]);
    const outPad = (attrs.output_padding as number[] | undefined) ?? spatial.map(() => 0);
    const r = spatial.length;
    const out = spatial.map((size, i) =>
      typeof size === "number"
        ? win.strides[i] * (size - 1) + outPad[i] + (win.dilations[i] * (win.kernel[i] - 1) + 1) - win.pads[i] - win.pads[i + r]
        : `${ctx.node}_${i}`,
    );
    return [{ dtype: x.dtype, shape: [n, typeof mPerGroup === "number" ? mPerGroup * group : mPerGroup, ...out] }];
  },
};

