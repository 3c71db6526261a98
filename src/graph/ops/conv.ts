/**
 * Conv and its transpose. The VJP is standard ONNX only (onnxruntime-node has no ConvGrad):
 * dX = ConvTranspose(dY, W); dW = Conv of X by dY with the forward strides as dilations,
 * on batch-and-channel-swapped tensors; dB = ReduceSum(dY).
 */
import type { GraphBuilder, Node } from "../ir";
import { Attrs, OpDef, RuleContext } from "../op";
import { isStatic, TensorType, Value } from "../types";
import { transposeOutputPadding, windowFromAttrs, windowOutput } from "./window";
import { convWeightGradWinograd, winogradWeightGradApplies } from "./conv-weight-grad-winograd";

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
  vjp(b, node, [dY], wanted, opts) {
    const [x, w, bias] = node.inputs as Value[];
    if (!dY) return [];
    const rank = x.shape.length - 2;
    const win = windowFromAttrs(node.attrs, rank, w.shape.slice(2) as number[]);
    const group = (node.attrs.group as number | undefined) ?? 1;
    if (group !== 1 && wanted[1]) throw new Error("internal: grouped Conv weight gradient is not supported");
    const dX = wanted[0] ? convInputGrad(b, dY, w, x, win, node.attrs) : undefined;
    const form = opts.convWeightGrad ?? "gemm";
    const dW = !wanted[1]
      ? undefined
      : form === "winograd" && winogradWeightGradApplies(x, dY, w, win)
        ? convWeightGradWinograd(b, x, dY, w, win, opts)
        : convWeightGrad(b, x, dY, w, win, form === "conv" ? "conv" : "gemm");
    const dB = bias && wanted[2] ? b.op1("ReduceSum", [dY, b.ints([0, ...range(2, rank + 2)])], { keepdims: 0 }) : undefined;
    return [dX, dW, dB];
  },
};

function range(from: number, to: number): number[] {
  return Array.from({ length: to - from }, (_, i) => from + i);
}

type Win = ReturnType<typeof windowFromAttrs>;

const unit = (xs: readonly number[]) => xs.every((v) => v === 1);

function convInputGrad(b: GraphBuilder, dY: Value, w: Value, x: Value, win: Win, attrs: Attrs): Value {
  const inSpatial = x.shape.slice(2);
  const outSpatial = dY.shape.slice(2);
  if (!isStatic(inSpatial) || !isStatic(outSpatial)) throw new Error("internal: Conv input gradient needs static spatial dims");
  const group = (attrs.group as number | undefined) ?? 1;
  const r = inSpatial.length;
  const fullPads = win.pads.map((p, i) => win.kernel[i % r] - 1 - p);
  if (group === 1 && unit(win.strides) && unit(win.dilations) && fullPads.every((p) => p >= 0)) {
    // Stride 1: dX is a plain convolution of dY with the flipped, transposed kernel
    // ("full" padding k−1−p): onnxruntime's Conv runs this far faster than its ConvTranspose
    // (docs/performance.md).
    const axes = range(2, r + 2);
    const flipped = b.op1("Slice", [w, b.ints(axes.map(() => -1)), b.ints(axes.map(() => -(2 ** 31))), b.ints(axes), b.ints(axes.map(() => -1))]);
    const wt = b.op1("Transpose", [flipped], { perm: [1, 0, ...axes] });
    return b.op1("Conv", [dY, wt], { kernel_shape: win.kernel, pads: fullPads });
  }
  return b.op1("ConvTranspose", [dY, w], {
    kernel_shape: win.kernel,
    strides: win.strides,
    pads: win.pads,
    dilations: win.dilations,
    group,
    output_padding: transposeOutputPadding(inSpatial, outSpatial, win),
  });
}

/** Below this many input channels the per-offset GEMMs are too thin; use the batched Conv form. */
const GEMM_MIN_CHANNELS = 8;

function convWeightGrad(b: GraphBuilder, x: Value, dY: Value, w: Value, win: Win, form: "gemm" | "conv"): Value {
  const cin = x.shape[1];
  if (form === "gemm" && x.shape.length === 4 && typeof cin === "number" && cin >= GEMM_MIN_CHANNELS) return convWeightGradGemm(b, x, dY, w, win);
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

/**
 * dW as one GEMM per kernel offset: dW[:,:,i,j] = dY·X(i,j) with dY as [Cout, N·Ho·Wo] and
 * X(i,j) the strided window of the channels-last padded input at that offset, [N·Ho·Wo, Cin].
 * Each GEMM is fat (K = N·Ho·Wo); the batched-Conv form streams the whole dY once per input
 * channel and runs several times slower on onnxruntime's CPU provider. dY is transposed to
 * [Cout, N·Ho·Wo] once rather than read with transA = 1 by every GEMM, which onnxruntime
 * re-packs per call (docs/performance-log.md).
 */
function convWeightGradGemm(b: GraphBuilder, x: Value, dY: Value, w: Value, win: Win): Value {
  const [cout, cin, kh, kw] = w.shape as number[];
  const [ho, wo] = dY.shape.slice(2) as number[];
  const [pt, pl, pb, pr] = win.pads;
  const padded = win.pads.some((p) => p !== 0) ? b.op1("Pad", [x, b.ints([0, 0, pt, pl, 0, 0, pb, pr])]) : x;
  const xt = b.op1("Transpose", [padded], { perm: [0, 2, 3, 1] });
  const dYt = b.op1("Reshape", [b.op1("Transpose", [dY], { perm: [1, 0, 2, 3] }), b.ints([cout, -1])]);
  const [sh, sw] = win.strides;
  const [dh, dw] = win.dilations;
  const columns: Value[] = [];
  for (let i = 0; i < kh; i++) {
    for (let j = 0; j < kw; j++) {
      const top = i * dh;
      const left = j * dw;
      const window = b.op1("Slice", [xt, b.ints([top, left]), b.ints([top + (ho - 1) * sh + 1, left + (wo - 1) * sw + 1]), b.ints([1, 2]), b.ints([sh, sw])]);
      const g = b.op1("Gemm", [dYt, b.op1("Reshape", [window, b.ints([-1, cin])])]);
      columns.push(b.op1("Unsqueeze", [g, b.ints([2])]));
    }
  }
  const stacked = columns.length === 1 ? columns[0] : b.op1("Concat", columns, { axis: 2 });
  return b.op1("Reshape", [stacked, b.ints([cout, cin, kh, kw])]);
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

