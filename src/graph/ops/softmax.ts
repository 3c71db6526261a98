/**
 * Softmax-family ops and the classification loss. SoftmaxCrossEntropyLoss (mean reduction,
 * as PyTorch's nn.CrossEntropyLoss) runs on onnxruntime-node as an expanded function; its
 * gradient (softmax − onehot)/N is emitted explicitly.
 */
import { OpDef } from "../op";
import { DTYPE_CODE, formatShape } from "../types";
import { crossEntropyForWebGpu, oneHotForWebGpu } from "./softmax.webgpu";

export const SoftmaxCrossEntropyLoss: OpDef = {
  type: "SoftmaxCrossEntropyLoss",
  attrs: { reduction: "string", ignore_index: "int" },
  nondiff: [1, 2],
  lowerings: { webgpu: crossEntropyForWebGpu },
  infer([scores, labels], attrs, ctx, outputs) {
    if (!scores || !labels) return ctx.fail("needs scores and labels");
    if (scores.shape.length !== 2) return ctx.fail(`scores must be [N, classes], got ${formatShape(scores.shape)}`);
    if (labels.shape.length !== 1) return ctx.fail(`labels must be [N], got ${formatShape(labels.shape)}`);
    if (labels.dtype !== "int64" && labels.dtype !== "int32") return ctx.fail(`labels must be integers, got ${labels.dtype}`);
    const [n] = scores.shape;
    const [nl] = labels.shape;
    if (typeof n === "number" && typeof nl === "number" && n !== nl) return ctx.fail(`${n} score rows but ${nl} labels`);
    const reduction = (attrs.reduction as string | undefined) ?? "mean";
    const loss = { dtype: scores.dtype, shape: reduction === "none" ? [n] : [] };
    return outputs > 1 ? [loss, { dtype: scores.dtype, shape: scores.shape }] : [loss];
  },
  vjp(b, node, [dLoss]) {
    if (!dLoss) return [];
    const [scores, labels] = node.inputs as NonNullable<(typeof node.inputs)[number]>[];
    if ((node.attrs.reduction ?? "mean") !== "mean") throw new Error("internal: loss VJP supports mean reduction");
    const classes = scores.shape[1];
    if (typeof classes !== "number") throw new Error("internal: loss VJP needs a static class count");
    const probs = node.outputs[1] ? b.op1("Exp", [node.outputs[1]]) : b.op1("Softmax", [scores], { axis: 1 });
    // onnxruntime's CPU OneHot has no float64 kernel: build it in float32 and cast.
    const oh = b.op1("OneHot", [labels, b.ints([classes]), b.constant("float32", [2], [0, 1])], { axis: -1 });
    const onehot = scores.dtype === "float32" ? oh : b.op1("Cast", [oh], { to: DTYPE_CODE[scores.dtype] });
    const count = b.op1("Cast", [b.op1("Size", [labels])], { to: scores.dtype === "float64" ? 11 : 1 });
    const scale = b.op1("Div", [dLoss, count]);
    return [b.op1("Mul", [b.op1("Sub", [probs, onehot]), scale])];
  },
};

function softmaxLike(type: "Softmax" | "LogSoftmax"): OpDef {
  return {
    type,
    attrs: { axis: "int" },
    infer([x], _attrs, ctx) {
      if (!x) return ctx.fail("needs an input");
      return [{ dtype: x.dtype, shape: x.shape }];
    },
    vjp(b, node, [dY]) {
      if (!dY) return [];
      const y = node.outputs[0];
      const axis = b.ints([(node.attrs.axis as number | undefined) ?? -1]);
      if (type === "LogSoftmax") {
        // dx = dy − softmax·Σdy
        const sum = b.op1("ReduceSum", [dY, axis], { keepdims: 1 });
        return [b.op1("Sub", [dY, b.op1("Mul", [b.op1("Exp", [y]), sum])])];
      }
      // dx = y·(dy − Σ dy·y)
      const sum = b.op1("ReduceSum", [b.op1("Mul", [dY, y]), axis], { keepdims: 1 });
      return [b.op1("Mul", [y, b.op1("Sub", [dY, sum])])];
    },
  };
}

export const Softmax = softmaxLike("Softmax");
export const LogSoftmax = softmaxLike("LogSoftmax");

export const OneHot: OpDef = {
  type: "OneHot",
  attrs: { axis: "int" },
  lowerings: { webgpu: oneHotForWebGpu },
  infer([indices, , values], attrs, ctx) {
    const depth = ctx.shapeValue(1);
    if (!indices || !values || !depth) return ctx.fail("needs indices, a constant depth and values");
    // The depth becomes a new axis of the output (rank + 1), at `axis` (default −1: last).
    const rank = indices.shape.length + 1;
    const a = (attrs.axis as number | undefined) ?? -1;
    if (a < -rank || a >= rank) return ctx.fail(`axis ${a} is out of range for rank ${rank}`);
    const axis = a < 0 ? a + rank : a;
    const shape = [...indices.shape];
    shape.splice(axis, 0, depth[0]);
    return [{ dtype: values.dtype, shape }];
  },
};

export const ArgMax: OpDef = {
  type: "ArgMax",
  attrs: { axis: "int", keepdims: "int" },
  infer([x], attrs, ctx) {
    if (!x) return ctx.fail("needs an input");
    const rank = x.shape.length;
    const a = (attrs.axis as number | undefined) ?? 0;
    if (a < -rank || a >= rank) return ctx.fail(`axis ${a} is out of range for rank ${rank}`);
    const axis = a < 0 ? a + rank : a;
    const shape = attrs.keepdims === 0 ? x.shape.filter((_, i) => i !== axis) : x.shape.map((d, i) => (i === axis ? 1 : d));
    return [{ dtype: "int64", shape }];
  },
};
