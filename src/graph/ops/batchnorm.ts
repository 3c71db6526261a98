/**
 * BatchNormalization (opset 15+, inference form): y = (x − mean)/√(var + ε)·scale + bias per
 * channel (axis 1), with the running statistics as inputs. The inference graph uses this op; a
 * training step normalises with the batch's own statistics instead, written out in primitive
 * ops by `batchNormTraining` below, because ONNX's training_mode differs from PyTorch (its
 * momentum weighs the other side and its running variance is the biased one) and onnxruntime's
 * CPU kernel does not run it outside training builds. The autodiff driver differentiates those
 * primitives; this op's own VJP treats the statistics as constants (a frozen BatchNorm).
 */
import type { GraphBuilder, Node } from "../ir";
import { OpDef, RuleContext } from "../op";
import { DTYPE_CODE, formatShape, TensorType, Value } from "../types";

const INPUTS = ["scale", "bias", "mean", "var"] as const;

export const BatchNormalization: OpDef = {
  type: "BatchNormalization",
  attrs: { epsilon: "float", momentum: "float", training_mode: "int" },
  nondiff: [3, 4],
  infer([x, ...stats], attrs, ctx, outputs) {
    if (!x) return ctx.fail("needs an input");
    if (attrs.training_mode === 1 || outputs > 1) return ctx.fail("alexc emits the inference form only (training_mode 0, one output)");
    checkChannels(x, stats, ctx);
    return [{ dtype: x.dtype, shape: x.shape }];
  },
  vjp(b, node, [dY], wanted) {
    if (!dY) return [];
    const [x, scale, , mean, variance] = node.inputs as Value[];
    const invStd = b.op1("Div", [b.scalar(1, x.dtype), b.op1("Sqrt", [b.op1("Add", [variance, b.scalar(epsilonOf(node), x.dtype)])])]);
    const axes = b.ints(statAxes(x.shape.length));
    const xHat = () => b.op1("Mul", [b.op1("Sub", [x, perChannel(b, mean, x)]), perChannel(b, invStd, x)]);
    return [
      wanted[0] ? b.op1("Mul", [dY, perChannel(b, b.op1("Mul", [scale, invStd]), x)]) : undefined,
      wanted[1] ? b.op1("ReduceSum", [b.op1("Mul", [dY, xHat()]), axes], { keepdims: 0 }) : undefined,
      wanted[2] ? b.op1("ReduceSum", [dY, axes], { keepdims: 0 }) : undefined,
    ];
  },
};

/** Scale, bias, mean and variance are vectors of the input's channel count. */
function checkChannels(x: TensorType, stats: readonly (TensorType | undefined)[], ctx: RuleContext): void {
  if (x.shape.length < 2) ctx.fail(`input must be [N, C, ...], got ${formatShape(x.shape)}`);
  const c = x.shape[1];
  INPUTS.forEach((what, i) => {
    const s = stats[i];
    if (!s) return ctx.fail(`needs ${what}`);
    if (s.shape.length !== 1 || (typeof c === "number" && s.shape[0] !== c)) {
      ctx.fail(`${what} must be [C] with C = ${String(c)} channels of input ${formatShape(x.shape)}, got ${formatShape(s.shape)}`);
    }
  });
}

const epsilonOf = (node: Node) => (node.attrs.epsilon as number | undefined) ?? 1e-5;

/** Every axis but the channel axis 1: the axes a batch statistic averages over. */
export function statAxes(rank: number): number[] {
  return [0, ...Array.from({ length: rank - 2 }, (_, i) => i + 2)];
}

/** A [C] vector shaped to broadcast along x's channel axis: [C, 1, 1] for [N, C, H, W]. */
function perChannel(b: GraphBuilder, v: Value, x: Value): Value {
  const rank = x.shape.length;
  return rank === 2 ? v : b.op1("Reshape", [v, b.ints([-1, ...new Array<number>(rank - 2).fill(1)])]);
}

export interface BatchNormStatistics {
  readonly epsilon: number;
  readonly momentum: number;
}

/**
 * Training-mode BatchNorm as PyTorch computes it, in primitive ops: normalise x with the batch's
 * mean and biased variance over every axis but the channels, then scale and shift; the running
 * statistics move towards the batch's by `momentum`, the variance's estimate unbiased by
 * m/(m − 1) for m values per channel. Returns y and the new running mean and variance.
 */
export function batchNormTraining(
  b: GraphBuilder,
  [x, scale, bias, runningMean, runningVar]: readonly Value[],
  { epsilon, momentum }: BatchNormStatistics,
): { y: Value; mean: Value; variance: Value } {
  const axes = statAxes(x.shape.length);
  const mean = b.op1("ReduceMean", [x], { axes, keepdims: 1 });
  const centred = b.op1("Sub", [x, mean]);
  const variance = b.op1("ReduceMean", [b.op1("Mul", [centred, centred])], { axes, keepdims: 1 });
  const xHat = b.op1("Div", [centred, b.op1("Sqrt", [b.op1("Add", [variance, b.scalar(epsilon, x.dtype)])])]);
  const y = b.op1("Add", [b.op1("Mul", [xHat, perChannel(b, scale, x)]), perChannel(b, bias, x)]);

  const vector = (v: Value) => b.op1("Reshape", [v, b.ints([-1])]);
  const m = b.op1("Div", [b.op1("Cast", [b.op1("Size", [x])], { to: DTYPE_CODE[x.dtype] }), b.scalar(Number(x.shape[1]), x.dtype)]);
  const unbiased = b.op1("Mul", [vector(variance), b.op1("Div", [m, b.op1("Sub", [m, b.scalar(1, x.dtype)])])]);
  const moved = (running: Value, batch: Value) =>
    b.op1("Add", [b.op1("Mul", [running, b.scalar(1 - momentum, x.dtype)]), b.op1("Mul", [batch, b.scalar(momentum, x.dtype)])]);
  return { y, mean: moved(runningMean, vector(mean)), variance: moved(runningVar, unbiased) };
}
