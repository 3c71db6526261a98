/** The autodiff driver's user-facing errors name the op, the node and the model line. */
import { GradientError } from "../src/graph/errors";
import { GraphBuilder } from "../src/graph/ir";
import { gradients } from "../src/train/autodiff";

test("an op with no VJP rule on the path to the loss names the op, the node and the source line", () => {
  const b = new GraphBuilder("g");
  const x = b.input("x", "float32", [4, 3]);
  const w = b.input("w", "float32", [3, 3]);
  const h = b.op1("MatMul", [x, w]);
  const loc = { file: `${process.cwd()}/models/custom.ts`, line: 12, column: 7 };
  const rounded = b.op1("Round", [h], {}, { name: "layer2/Round", loc });
  const loss = b.op1("ReduceSum", [rounded], { keepdims: 0 });
  let err: unknown;
  try {
    gradients(b, loss, [w]);
  } catch (e) {
    err = e;
  }
  expect(err).toBeInstanceOf(GradientError);
  expect((err as Error).message).toBe("models/custom.ts:12:7: no gradient rule for Round 'layer2/Round'");
});

test("a loss that is not a scalar is rejected with its shape", () => {
  const b = new GraphBuilder("g");
  const x = b.input("x", "float32", ["N", 3]);
  const w = b.input("w", "float32", [3, 2]);
  const y = b.op1("MatMul", [x, w], {}, { name: "logits/MatMul" });
  expect(() => gradients(b, y, [w])).toThrow(new GradientError("the loss must be a scalar, got shape [N,2] ('logits/MatMul')"));
});

test("a parameter that does not reach the loss is reported by name", () => {
  const b = new GraphBuilder("g");
  const x = b.input("x", "float32", [2, 3]);
  const w = b.input("w", "float32", [3, 3]);
  const unused = b.input("unused.weight", "float32", [3]);
  const loss = b.op1("ReduceSum", [b.op1("MatMul", [x, w])], { keepdims: 0 });
  expect(() => gradients(b, loss, [w, unused])).toThrow("parameter 'unused.weight' does not affect the loss");
});
