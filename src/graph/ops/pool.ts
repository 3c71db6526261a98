/**
 * MaxPool and AveragePool. MaxPool's gradient scatters dY to the argmax positions with
 * ScatterElements(reduction="add"): windows overlap (3/2 in AlexNet), so MaxUnpool, which
 * overwrites, would be wrong; over a Relu it takes the Relu's mask too (the ReluMaxPool pair
 * rule). AveragePool's gradient is a depthwise ConvTranspose with a constant 1/(k·k) kernel.
 * The WebGPU lowering of MaxPool's indices is in pool.webgpu.ts.
 */
import type { GraphBuilder, Node } from "../ir";
import { GradientOptions, OpDef, PairVjp, RuleContext } from "../op";
import { isStatic, makeTensor, numel, TensorType, Value } from "../types";
import { reshapeLike } from "./layout";
import { maxPoolForWebGpu } from "./pool.webgpu";
import { transposeOutputPadding, windowFromAttrs, windowOutput } from "./window";

const POOL_ATTRS = { kernel_shape: "ints", strides: "ints", pads: "ints", dilations: "ints", ceil_mode: "int" } as const;

function poolShape(x: TensorType | undefined, attrs: Parameters<OpDef["infer"]>[1], ctx: RuleContext) {
  if (!x) return ctx.fail("needs an input");
  if (x.shape.length < 3) return ctx.fail(`input must be [N, C, spatial...], got rank ${x.shape.length}`);
  const [n, c, ...spatial] = x.shape;
  const kernel = attrs.kernel_shape as number[] | undefined;
  if (!kernel || kernel.length !== spatial.length) return ctx.fail(`kernel_shape must have ${spatial.length} entries`);
  return [n, c, ...windowOutput(spatial, windowFromAttrs(attrs, spatial.length), ctx)];
}

export const MaxPool: OpDef = {
  type: "MaxPool",
  attrs: { ...POOL_ATTRS, storage_order: "int" },
  lowerings: { webgpu: maxPoolForWebGpu },
  infer([x], attrs, ctx, outputs) {
    const shape = poolShape(x, attrs, ctx);
    const types: TensorType[] = [{ dtype: x!.dtype, shape }];
    if (outputs > 1) types.push({ dtype: "int64", shape });
    return types;
  },
  vjp: (b, node, [dY], _wanted, opts) => (dY ? [maxPoolGradient(b, node, dY, opts, false)] : []),
};

/**
 * MaxPool over a Relu's output (every pool of AlexNet): the Relu's gradient mask [y > 0], read at
 * a window's argmax, is [Y > 0] of that window's pooled value Y, since Y is the value there. So the
 * pool masks dY on the pooled tensor (several times smaller than its input) before the scatter,
 * and the result is what the Relu's own rule would return for it: the same values, with the mask
 * taken and applied on the small tensor (docs/performance.md).
 */
export const ReluMaxPool: PairVjp = {
  name: "relu-maxpool",
  producer: "Relu",
  consumer: "MaxPool",
  vjp: (b, node, [dY], _wanted, opts) => (dY ? [maxPoolGradient(b, node, dY, opts, true)] : []),
};

/**
 * Scatters dY to the argmax positions. Indices address the flattened input (batch and channel
 * included), so one scatter over the flat tensor sums every window's gradient into its argmax.
 * `reluMask`: mask dY where the pooled value is not positive first (ReluMaxPool).
 */
function maxPoolGradient(b: GraphBuilder, node: Node, dY: Value, opts: GradientOptions, reluMask: boolean): Value {
  const x = node.inputs[0]!;
  const [pooled, maybeIndices] = node.outputs;
  const indices = maybeIndices ?? b.op(node.op, [x], node.attrs, { outputs: 2 })[1];
  let updates = dY;
  if (reluMask) {
    const zero = b.scalar(0, dY.dtype);
    updates = b.op1("Where", [b.op1("Greater", [pooled, zero]), dY, zero]);
  }
  const flat = b.ints([-1]);
  const zeros = b.op1("ConstantOfShape", [scatterShape(b, x, dY, opts)], { value: makeTensor("", x.dtype, [1], [0]) });
  const scattered = b.op1("ScatterElements", [
    b.op1("Reshape", [zeros, flat]),
    b.op1("Reshape", [indices, flat]),
    b.op1("Reshape", [updates, flat]),
  ], { axis: 0, reduction: "add" });
  return reshapeLike(b, scattered, x);
}

/**
 * The shape of max-pooling's scatter target, x's. Read off x itself, Shape(x) would keep x (a
 * Relu's output, larger than the pooled tensor) alive from the forward until this gradient runs; with x's
 * dims static past the batch it is [batch of dY, ...x's other dims] instead (GradientOptions).
 */
function scatterShape(b: GraphBuilder, x: Value, dY: Value, opts: GradientOptions): Value {
  const rest = x.shape.slice(1);
  if (opts.poolScatterZeros === "input" || !isStatic(rest)) return b.op1("Shape", [x]);
  if (typeof x.shape[0] === "number") return b.ints([x.shape[0], ...rest]);
  return b.op1("Concat", [b.op1("Slice", [b.op1("Shape", [dY]), b.ints([0]), b.ints([1])]), b.ints(rest)], { axis: 0 });
}

export const AveragePool: OpDef = {
  type: "AveragePool",
  attrs: { ...POOL_ATTRS, count_include_pad: "int" },
  infer([x], attrs, ctx) {
    const shape = poolShape(x, attrs, ctx); // fails first when x is missing
    return [{ dtype: x!.dtype, shape }];
  },
  vjp(b, node, [dY]) {
    const x = node.inputs[0]!;
    if (!dY) return [];
    const rank = x.shape.length - 2;
    const win = windowFromAttrs(node.attrs, rank);
    const padded = win.pads.some((p) => p !== 0);
    if (padded && node.attrs.count_include_pad !== 1) {
      throw new Error("internal: AveragePool gradient with padding needs count_include_pad=1");
    }
    const c = x.shape[1];
    const inSpatial = x.shape.slice(2);
    if (typeof c !== "number" || !isStatic(inSpatial)) throw new Error("internal: AveragePool gradient needs static C, H, W");
    const size = numel(win.kernel);
    const kernel = b.constant(x.dtype, [c, 1, ...win.kernel], new Array<number>(c * size).fill(1 / size));
    const dX = b.op1("ConvTranspose", [dY, kernel], {
      kernel_shape: win.kernel,
      strides: win.strides,
      pads: win.pads,
      group: c,
      output_padding: transposeOutputPadding(inSpatial, dY.shape.slice(2) as number[], win),
    });
    return [dX];
  },
};

/**
 * GlobalAveragePool: the mean over every spatial position, [N, C, H, W] → [N, C, 1, 1]
 * (PyTorch's AdaptiveAvgPool2d((1, 1))). Its gradient spreads dY evenly: Expand(dY / (H·W)).
 */
export const GlobalAveragePool: OpDef = {
  type: "GlobalAveragePool",
  attrs: {},
  infer([x], _attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    if (x.shape.length < 3) return ctx.fail(`input must be [N, C, spatial...], got rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: [x.shape[0], x.shape[1], ...x.shape.slice(2).map(() => 1)] }];
  },
  vjp(b, node, [dY]) {
    const x = node.inputs[0]!;
    if (!dY) return [];
    const spatial = x.shape.slice(2);
    if (!isStatic(spatial)) throw new Error("internal: GlobalAveragePool gradient needs static spatial dims");
    return [b.op1("Expand", [b.op1("Div", [dY, b.scalar(numel(spatial), dY.dtype)]), b.op1("Shape", [x])])];
  },
};
