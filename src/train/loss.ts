/**
 * The training loss: cross-entropy of the logits against the labels, averaged over the batch,
 * with optional label smoothing in PyTorch's semantics (CrossEntropyLoss(label_smoothing=ε)):
 *
 *   loss = (1 − ε)·NLL + ε·mean over batch and classes of −log p
 *
 * ONNX's SoftmaxCrossEntropyLoss has no smoothing, so the smoothing term is composed from ops
 * with VJPs (LogSoftmax, ReduceSum, Mul, Div, Add); the batch size divides it as a value read
 * from the labels, which no gradient flows through. ε = 0 emits the one SoftmaxCrossEntropyLoss
 * node alexc has always emitted, so those graphs keep their bytes.
 */
import { UsageError } from "../graph/errors";
import type { GraphBuilder } from "../graph/ir";
import { DTYPE_CODE, Value } from "../graph/types";

export function crossEntropyLoss(b: GraphBuilder, logits: Value, labels: Value, labelSmoothing = 0, name = "loss"): Value {
  checkLabelSmoothing(labelSmoothing);
  if (labelSmoothing === 0) {
    return b.op("SoftmaxCrossEntropyLoss", [logits, labels], { reduction: "mean" }, { name: `${name}/SoftmaxCrossEntropyLoss`, outputNames: [name, `${name}:log_prob`] })[0];
  }
  const classes = logits.shape[1];
  if (typeof classes !== "number") throw new Error(`internal: label smoothing needs a static class count, got logits of shape [${logits.shape.join(", ")}]`);
  const dt = logits.dtype;
  return b.scoped(name, () => {
    const nll = b.op1("SoftmaxCrossEntropyLoss", [logits, labels], { reduction: "mean" });
    const logp = b.op1("LogSoftmax", [logits], { axis: 1 });
    // ε·mean(−log p) = Σ log p · (−ε/C) / N.
    const batch = b.op1("Cast", [b.op1("Size", [labels])], { to: DTYPE_CODE[dt] });
    const smooth = b.op1("Div", [b.op1("Mul", [b.op1("ReduceSum", [logp], { keepdims: 0 }), b.scalar(-labelSmoothing / classes, dt)]), batch]);
    return b.op1("Add", [b.op1("Mul", [nll, b.scalar(1 - labelSmoothing, dt)]), smooth], {}, { name: `${name}/Add`, outputNames: [name] });
  });
}

/** PyTorch accepts ε in [0, 1]; 1 would leave no signal from the labels, so alexc takes [0, 1). */
export function checkLabelSmoothing(eps: number, source = "label smoothing"): number {
  if (!(eps >= 0 && eps < 1)) throw new UsageError(`${source} must be in [0, 1), got ${Number.isNaN(eps) ? "a value that is not a number" : String(eps)}`);
  return eps;
}

/** A built file's label smoothing (its step holds it; the metadata says it), written only when ε > 0. */
export const LABEL_SMOOTHING_KEY = "alexc.label_smoothing";
export function lossMetadata(labelSmoothing: number): Record<string, string> {
  return labelSmoothing === 0 ? {} : { [LABEL_SMOOTHING_KEY]: String(labelSmoothing) };
}
