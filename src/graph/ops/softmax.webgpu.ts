/**
 * SoftmaxCrossEntropyLoss and OneHot for the WebGPU provider, which has no LogSoftmax or OneHot
 * kernel: the loss as max-shifted log-softmax and a masked sum, OneHot as Equal against a constant
 * range.
 */
import type { GraphBuilder, Node } from "../ir";
import type { ProviderLowering } from "../lowering";
import { DTYPE_CODE, Value } from "../types";

export const crossEntropyForWebGpu: ProviderLowering = {
  rewrite: (ctx, n, [scores, labels]) => ctx.b.scoped(`${n.name}/webgpu`, () => crossEntropy(ctx.b, n, scores!, labels!)),
};

export const oneHotForWebGpu: ProviderLowering = {
  rewrite(ctx, n, [indices]) {
    const { b } = ctx;
    const depth = Number(ctx.constant(n.inputs[1])!.data[0]);
    const values = ctx.constant(n.inputs[2])!;
    const [off, on] = Array.from(values.data as ArrayLike<number>, Number);
    return [
      b.scoped(`${n.name}/webgpu`, () => {
        const eq = b.op1("Equal", [b.op1("Unsqueeze", [indices!, b.ints([-1])]), b.constant("int64", [depth], range(depth))]);
        return b.op1("Where", [eq, b.scalar(on, values.dtype), b.scalar(off, values.dtype)], {}, { outputNames: [n.outputs[0].name] });
      }),
    ];
  },
};

/** Mean softmax cross-entropy (and log-probabilities) without LogSoftmax or OneHot. */
function crossEntropy(b: GraphBuilder, n: Node, scores: Value, labels: Value): Value[] {
  if ((n.attrs.reduction ?? "mean") !== "mean") throw new Error("internal: WebGPU loss lowering handles mean reduction");
  const classes = scores.shape[1] as number;
  const z = b.op1("Sub", [scores, b.op1("ReduceMax", [scores], { axes: [1], keepdims: 1 })]);
  const lse = b.op1("Log", [b.op1("ReduceSum", [b.op1("Exp", [z]), b.ints([1])], { keepdims: 1 })]);
  const logp = b.op1("Sub", [z, lse], {}, n.outputs[1] ? { outputNames: [n.outputs[1].name] } : {});
  const hot = b.op1("Cast", [b.op1("Equal", [b.op1("Unsqueeze", [labels, b.ints([1])]), b.constant("int64", [1, classes], range(classes))])], { to: DTYPE_CODE[scores.dtype] });
  const total = b.op1("ReduceSum", [b.op1("Mul", [logp, hot])], { keepdims: 0 });
  const count = b.op1("Cast", [b.op1("Size", [labels])], { to: DTYPE_CODE[scores.dtype] });
  const loss = b.op1("Neg", [b.op1("Div", [total, count])], {}, { outputNames: [n.outputs[0].name] });
  return n.outputs[1] ? [loss, logp] : [loss];
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
