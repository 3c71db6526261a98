/**
 * The rules that live with each op besides its shape rule and VJP: value rules (partial
 * evaluation of shapes), the Relu∘MaxPool pair rule, and the provider lowering entries; and the
 * op files' independence (no module-level mutable state one op's rule could share with another's).
 */
import * as fs from "fs";
import * as path from "path";
import { GraphBuilder } from "../src/graph/ir";
import { findOp, lookupOp, lookupPairVjp, registeredOps } from "../src/graph/ops";
import { gradients } from "../src/train/autodiff";

describe("value rules", () => {
  const withInput = () => {
    const b = new GraphBuilder("t");
    const x = b.input("x", "float32", ["N", 3, 8, 8]);
    return { b, x };
  };

  test("Shape: the input's dims, symbolic ones included", () => {
    const { b, x } = withInput();
    expect(b.shapeValueOf(b.op1("Shape", [x]))).toEqual(["N", 3, 8, 8]);
  });

  test("constants: 1-D initializers only", () => {
    const { b } = withInput();
    expect(b.shapeValueOf(b.ints([4, -1]))).toEqual([4, -1]);
    expect(b.shapeValueOf(b.scalar(2))).toBeUndefined();
  });

  test("Slice of a known value with constant bounds (axis 0, step 1), negative and clamped bounds", () => {
    const { b, x } = withInput();
    const shape = b.op1("Shape", [x]);
    expect(b.shapeValueOf(b.op1("Slice", [shape, b.ints([0]), b.ints([1])]))).toEqual(["N"]);
    expect(b.shapeValueOf(b.op1("Slice", [shape, b.ints([-2]), b.ints([100]), b.ints([0])]))).toEqual([8, 8]);
    expect(b.shapeValueOf(b.op1("Slice", [shape, b.ints([1]), b.ints([3]), b.ints([0]), b.ints([1])]))).toEqual([3, 8]);
    // A step other than 1, or bounds that are not known, leave the value unknown.
    expect(b.shapeValueOf(b.op1("Slice", [shape, b.ints([0]), b.ints([4]), b.ints([0]), b.ints([2])]))).toBeUndefined();
    const computed = b.op1("Slice", [b.op1("Shape", [b.op1("Relu", [x])]), b.ints([0]), b.ints([1])]);
    expect(b.shapeValueOf(b.op1("Slice", [shape, computed, b.ints([2])]))).toBeUndefined();
  });

  test("Concat on axis 0 of known parts; an unknown part makes the whole unknown", () => {
    const { b, x } = withInput();
    const batch = b.op1("Slice", [b.op1("Shape", [x]), b.ints([0]), b.ints([1])]);
    expect(b.shapeValueOf(b.op1("Concat", [batch, b.ints([192])], { axis: 0 }))).toEqual(["N", 192]);
    const unknown = b.op1("Cast", [b.ints([2])], { to: 7 });
    expect(b.shapeValueOf(b.op1("Concat", [batch, unknown], { axis: 0 }))).toBeUndefined();
  });

  test("shape rules read the values: Reshape to a shape assembled from Shape, Slice and Concat", () => {
    const { b, x } = withInput();
    const target = b.op1("Concat", [b.op1("Slice", [b.op1("Shape", [x]), b.ints([0]), b.ints([1])]), b.ints([192])], { axis: 0 });
    expect(b.op1("Reshape", [x, target]).shape).toEqual(["N", 192]);
  });

  test("only the ops that compute shapes have a value rule", () => {
    expect(registeredOps().filter((t) => lookupOp(t).value).sort()).toEqual(["Concat", "Shape", "Slice"]);
  });
});

describe("the Relu∘MaxPool pair rule", () => {
  const build = (alsoTanh: boolean) => {
    const b = new GraphBuilder("t");
    const x = b.input("x", "float32", [2, 3, 8, 8]);
    const y = b.op1("Relu", [x], {}, { name: "relu" });
    let loss = b.op1("ReduceSum", [b.op1("MaxPool", [y], { kernel_shape: [2, 2], strides: [2, 2] }, { name: "pool" })], { keepdims: 0 });
    if (alsoTanh) loss = b.op1("Add", [loss, b.op1("ReduceSum", [b.op1("Tanh", [y])], { keepdims: 0 })]);
    gradients(b, loss, [x]);
    return b.nodes.filter((n) => n.name.startsWith("grad/"));
  };

  test("is registered for MaxPool over a Relu", () => {
    expect(lookupPairVjp("Relu", "MaxPool")?.name).toBe("relu-maxpool");
    expect(lookupPairVjp("Tanh", "MaxPool")).toBeUndefined();
  });

  test("the pool masks on the pooled tensor and the Relu's own rule emits nothing", () => {
    const grad = build(false);
    const greaters = grad.filter((n) => n.op === "Greater");
    expect(greaters.map((n) => n.inputs[0]!.name)).toEqual(["pool"]);
    expect(grad.some((n) => n.name.startsWith("grad/relu/"))).toBe(false);
  });

  test("with a second reader the Relu masks the summed cotangent itself", () => {
    const grad = build(true);
    expect(grad.filter((n) => n.op === "Greater").map((n) => n.inputs[0]!.name).sort()).toEqual(["pool", "relu"]);
  });
});

describe("provider lowerings", () => {
  test("the ops the WebGPU provider lacks or mishandles have an entry beside their rules", () => {
    const withEntry = registeredOps().filter((t) => findOp(t)?.lowerings?.webgpu).sort();
    expect(withEntry).toEqual(["ConstantOfShape", "Dropout", "Greater", "MaxPool", "OneHot", "SoftmaxCrossEntropyLoss", "Where"]);
    expect(findOp("Loop")).toBeUndefined();
  });
});

test("no op file holds module-level mutable state (rules share nothing through module variables)", () => {
  const dir = path.join(__dirname, "../src/graph/ops");
  const offenders: string[] = [];
  for (const file of fs.readdirSync(dir).filter((f) => f.endsWith(".ts"))) {
    fs.readFileSync(path.join(dir, file), "utf8")
      .split("\n")
      .forEach((line, i) => {
        // Top-level (unindented) declarations only: a rule's own locals are indented. A table
        // typed read-only (the registry) is allowed.
        const collection = /^(export )?(const|var) \w+(: [^=]+)? = new (WeakMap|Map|Set|WeakSet|Array)\b/.test(line) && !/^[^=]*: Readonly/.test(line);
        if (/^(export )?(let|var) /.test(line) || collection) {
          offenders.push(`${file}:${i + 1}: ${line.trim()}`);
        }
      });
  }
  expect(offenders).toEqual([]);
});
