/**
 * The evaluation graph around an inference body, for a model file (step.ts) and a built .onnx
 * (program-onnx.ts) alike: raw uint8 images → preprocessing → the body's logits, and `correct`,
 * how many rows of the batch have their argmax at the label. Parameters are inputs of the body.
 */
import type { Preprocess } from "../graph/dsl";
import { GraphBuilder } from "../graph/ir";
import { DTYPE_CODE, type Value } from "../graph/types";
import { preprocess, rawImageInput } from "./preprocess";

/** `body` adds the inference graph on the preprocessed images `x` and returns its logits output. */
export function evalGraph(name: string, modelName: string, p: Preprocess | undefined, body: (b: GraphBuilder, x: Value) => Value): GraphBuilder {
  const b = new GraphBuilder(name);
  const images = rawImageInput(b, p, modelName);
  const labels = b.input("labels", "int64", ["N"]);
  const logits = body(b, preprocess(b, images, p!));
  b.output(correctCount(b, logits, labels));
  return b;
}

/** `correct`: how many rows of the batch have their argmax at the label (also the step's metric). */
export function correctCount(b: GraphBuilder, logits: Value, labels: Value): Value {
  const predicted = b.op1("ArgMax", [logits], { axis: 1, keepdims: 0 }, { name: "metrics/ArgMax" });
  const hits = b.op1("Cast", [b.op1("Equal", [predicted, labels], {}, { name: "metrics/Equal" })], { to: DTYPE_CODE.int64 }, { name: "metrics/Cast" });
  return b.op1("ReduceSum", [hits], { keepdims: 0 }, { name: "metrics/ReduceSum", outputNames: ["correct"] });
}
