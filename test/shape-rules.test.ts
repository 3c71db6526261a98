/**
 * Shape rules of the op registry (src/graph/ops), one describe per op family, driven through
 * GraphBuilder exactly as the DSL and the autodiff driver use them; then DSL-level errors
 * traced from small model definitions, checking that a ShapeError names the model's
 * file:line:column, the op, the layer and the numbers.
 */
import * as fs from "fs";
import * as path from "path";
import alexnet from "../models/alexnet";
import { model, N, Tensor } from "../src";
import { ModelDef, ParamSource } from "../src/graph/dsl";
import { ModelError, ShapeError } from "../src/graph/errors";
import { GraphBuilder, OpOptions } from "../src/graph/ir";
import type { AttrValue } from "../src/graph/op";
import { registeredOps } from "../src/graph/ops";
import { buildInferenceGraph, trace } from "../src/graph/trace";
import { DType, makeTensor, Shape, Value } from "../src/graph/types";

// ---------------------------------------------------------------------------------------------
// helpers

/** Op types exercised by this file; the last test checks that it covers the whole registry. */
const covered = new Set<string>();

function op(b: GraphBuilder, type: string, inputs: readonly (Value | undefined)[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): Value[] {
  covered.add(type);
  return b.op(type, inputs, attrs, opts);
}

function op1(b: GraphBuilder, type: string, inputs: readonly (Value | undefined)[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): Value {
  return op(b, type, inputs, attrs, opts)[0];
}

/** A fresh builder with float inputs of the given shapes (named x0, x1, ...). */
function setup(...shapes: Shape[]): { b: GraphBuilder; xs: Value[] } {
  const b = new GraphBuilder("t");
  return { b, xs: shapes.map((s, i) => b.input(`x${i}`, "float32", s)) };
}

function input(b: GraphBuilder, name: string, shape: Shape, dtype: DType = "float32"): Value {
  return b.input(name, dtype, shape);
}

/** Runs `fn`, expects a ShapeError, returns it (for checks on message and fields). */
function shapeError(fn: () => unknown): ShapeError {
  let thrown: unknown;
  try {
    fn();
  } catch (e) {
    thrown = e;
  }
  if (thrown === undefined) throw new Error("expected a ShapeError, nothing was thrown");
  if (!(thrown instanceof ShapeError)) throw new Error(`expected a ShapeError, got ${String((thrown as Error)?.stack ?? thrown)}`);
  return thrown;
}

/** Expects fn to fail with exactly `shape error in OP 'NODE': RULE` (no source location). */
function expectRule(fn: () => unknown, opType: string, node: string, rule: string): void {
  const e = shapeError(fn);
  expect(e.message).toBe(`shape error in ${opType} '${node}': ${rule}`);
  expect(e.op).toBe(opType);
  expect(e.nodeName).toBe(node);
  expect(e.rule).toBe(rule);
  expect(e.exitCode).toBe(3);
}

/**
 * Parameters as graph inputs (as a training step takes them), so tracing AlexNet does not draw
 * its 58M initial values: shape rules need no values (drawing them costs about a second).
 */
const paramsAsInputs: ParamSource = (b, name, dims) => b.input(name, "float32", dims);

/** Traces a model with `paramsAsInputs`; the shape rules run exactly as in buildInferenceGraph. */
function traceShapes(def: ModelDef, training = false): { b: GraphBuilder; output: Value } {
  const b = new GraphBuilder(def.spec.name);
  const x = b.input("input", "float32", def.spec.input);
  return { b, output: trace(def, b, x, { params: paramsAsInputs, training, prefix: training ? "train" : undefined }).output };
}

const window = (k: number[], s?: number[], p?: number[], d?: number[]): Record<string, AttrValue> => {
  const a: Record<string, AttrValue> = { kernel_shape: k };
  if (s) a.strides = s;
  if (p) a.pads = p;
  if (d) a.dilations = d;
  return a;
};

// ---------------------------------------------------------------------------------------------
// GraphBuilder basics the rules rely on

describe("GraphBuilder", () => {
  test("an unknown op and an unknown attribute are internal errors naming them", () => {
    const { b, xs } = setup([1, 2]);
    expect(() => b.op("Frobnicate", [xs[0]])).toThrow("internal: op 'Frobnicate' is not in the registry");
    expect(() => b.op("Relu", [xs[0]], { alpha: 1 })).toThrow("internal: Relu has no attribute 'alpha'");
  });

  test("node names: explicit name, scope, and de-duplication with _2", () => {
    const { b, xs } = setup([2, 3]);
    const r1 = op1(b, "Relu", [xs[0]]);
    const r2 = op1(b, "Relu", [xs[0]]);
    expect([r1.name, r2.name]).toEqual(["Relu", "Relu_2"]);
    const s = b.scoped("block1", () => op1(b, "Relu", [xs[0]]));
    expect(s.name).toBe("block1/Relu");
    const named = op1(b, "Relu", [xs[0]], {}, { name: "act", outputNames: ["act_out"] });
    expect(named.name).toBe("act_out");
    expect(b.nodes.map((n) => n.name)).toEqual(["Relu", "Relu_2", "block1/Relu", "act"]);
  });

  test("the node named in an error is the scope (layer) or the explicit node name", () => {
    const { b, xs } = setup([2, 3], [4, 3]);
    expectRule(() => b.scoped("mix", () => op(b, "Add", [xs[0], xs[1]])), "Add", "mix", "shapes [2,3] and [4,3] do not broadcast (axis 0: 2 vs 4)");
    expectRule(() => op(b, "Add", [xs[0], xs[1]], {}, { name: "mix2/Add" }), "Add", "mix2/Add", "shapes [2,3] and [4,3] do not broadcast (axis 0: 2 vs 4)");
  });

  test("a ShapeError with a source location prefixes file:line:column relative to cwd", () => {
    const { b, xs } = setup([2, 3], [4, 3]);
    const loc = { file: path.join(process.cwd(), "models", "m.ts"), line: 12, column: 5 };
    const e = shapeError(() => op(b, "Add", [xs[0], xs[1]], {}, { name: "add1/Add", loc }));
    expect(e.message).toBe(`${path.join("models", "m.ts")}:12:5: shape error in Add 'add1/Add': shapes [2,3] and [4,3] do not broadcast (axis 0: 2 vs 4)`);
    expect(e.loc).toEqual(loc);
  });
});

// ---------------------------------------------------------------------------------------------
// Conv

describe("Conv", () => {
  test("AlexNet's conv1: [N,1,224,224] * [96,1,11,11], stride 4, pad 2 → [N,96,55,55]", () => {
    const { b, xs } = setup([N, 1, 224, 224], [96, 1, 11, 11], [96]);
    const y = op1(b, "Conv", xs, window([11, 11], [4, 4], [2, 2, 2, 2], [1, 1]));
    expect(y.shape).toEqual([N, 96, 55, 55]);
    expect(y.dtype).toBe("float32");
  });

  test("'same' 3×3 and 5×5 convolutions keep the size; no bias is fine", () => {
    const { b, xs } = setup([N, 256, 13, 13], [384, 256, 3, 3], [N, 96, 27, 27], [256, 96, 5, 5]);
    expect(op1(b, "Conv", [xs[0], xs[1]], window([3, 3], [1, 1], [1, 1, 1, 1])).shape).toEqual([N, 384, 13, 13]);
    expect(op1(b, "Conv", [xs[2], xs[3]], window([5, 5], undefined, [2, 2, 2, 2])).shape).toEqual([N, 256, 27, 27]);
  });

  test("defaults: kernel from the weight, stride 1, no padding, dilation 1", () => {
    const { b, xs } = setup([2, 3, 10, 12], [8, 3, 3, 5]);
    expect(op1(b, "Conv", xs).shape).toEqual([2, 8, 8, 8]);
  });

  test("stride, asymmetric pads (ONNX order: begins then ends) and dilation, per axis", () => {
    const { b, xs } = setup([1, 1, 10, 10], [1, 1, 3, 3]);
    // height: (10+1+2 − 3)/2 + 1 = 6; width: (10+0+0 − 3)/3 + 1 = 3
    expect(op1(b, "Conv", xs, window([3, 3], [2, 3], [1, 0, 2, 0])).shape).toEqual([1, 1, 6, 3]);
    // dilation 2 → span 5: (10 − 5)/1 + 1 = 6; dilation 3 on width → span 7: 4
    expect(op1(b, "Conv", xs, window([3, 3], [1, 1], [0, 0, 0, 0], [2, 3])).shape).toEqual([1, 1, 6, 4]);
  });

  test("output size = floor((H + pb + pe − d·(k−1) − 1)/s) + 1 over a grid of cases", () => {
    let i = 0;
    let checked = 0;
    for (const h of [1, 2, 3, 5, 7, 8, 13]) {
      for (const k of [1, 2, 3, 5]) {
        for (const s of [1, 2, 3]) {
          for (const p of [0, 1, 2]) {
            for (const d of [1, 2]) {
              const b = new GraphBuilder("grid");
              const x = input(b, `x${i}`, [1, 2, h, h + 1]);
              const w = input(b, `w${i++}`, [4, 2, k, k]);
              const span = d * (k - 1) + 1;
              const attrs = window([k, k], [s, s], [p, p, p, p], [d, d]);
              if (span > h + 2 * p) {
                const e = shapeError(() => op(b, "Conv", [x, w], attrs));
                expect(e.rule).toMatch(/is larger than the padded input height/);
              } else {
                const outH = Math.floor((h + 2 * p - span) / s) + 1;
                const outW = Math.floor((h + 1 + 2 * p - span) / s) + 1;
                expect(op1(b, "Conv", [x, w], attrs).shape).toEqual([1, 4, outH, outW]);
                checked++;
              }
            }
          }
        }
      }
    }
    expect(checked).toBeGreaterThan(300);
  });

  test("1-D and 3-D convolutions", () => {
    const { b, xs } = setup([N, 4, 100], [8, 4, 7], [N, 2, 8, 16, 16], [4, 2, 3, 3, 3]);
    expect(op1(b, "Conv", [xs[0], xs[1]], window([7], [2], [3, 3])).shape).toEqual([N, 8, 50]);
    expect(op1(b, "Conv", [xs[2], xs[3]], window([3, 3, 3], [1, 2, 2], [1, 1, 1, 1, 1, 1])).shape).toEqual([N, 4, 8, 8, 8]);
  });

  test("symbolic spatial dims stay symbolic, named after the layer and axis", () => {
    const { b, xs } = setup([N, 3, "H", "W"], [16, 3, 3, 3]);
    const y = b.scoped("conv1", () => op1(b, "Conv", xs, window([3, 3])));
    expect(y.shape).toEqual([N, 16, "conv1_height", "conv1_width"]);
  });

  test("channel mismatch names both numbers", () => {
    const { b, xs } = setup([N, 64, 27, 27], [256, 96, 5, 5]);
    expectRule(() => op(b, "Conv", xs, window([5, 5]), { name: "conv2/Conv" }), "Conv", "conv2/Conv", "input has 64 channels, weight expects 96");
  });

  test("grouped conv: channels must equal weight channels × groups", () => {
    const { b, xs } = setup([N, 64, 8, 8], [64, 16, 3, 3], [64, 32, 3, 3]);
    expect(op1(b, "Conv", [xs[0], xs[1]], { group: 4, pads: [1, 1, 1, 1] }).shape).toEqual([N, 64, 8, 8]);
    expectRule(
      () => op(b, "Conv", [xs[0], xs[1]], { group: 2 }, { name: "g/Conv" }),
      "Conv",
      "g/Conv",
      "input has 64 channels, weight expects 16×2 groups = 32",
    );
    // depthwise: group = channels, one input channel per filter
    const { b: b2, xs: d } = setup([N, 32, 8, 8], [32, 1, 3, 3]);
    expect(op1(b2, "Conv", d, { group: 32 }).shape).toEqual([N, 32, 6, 6]);
  });

  test("bias length must match the output channels", () => {
    const { b, xs } = setup([N, 3, 8, 8], [16, 3, 3, 3], [15]);
    expectRule(() => op(b, "Conv", xs, {}, { name: "c/Conv" }), "Conv", "c/Conv", "bias has 15 entries, weight has 16 output channels");
  });

  test("a kernel larger than the padded input names the axis and the arithmetic", () => {
    const { b, xs } = setup([N, 1, 4, 20], [1, 1, 7, 7]);
    expectRule(() => op(b, "Conv", xs, window([7, 7], [1, 1], [1, 1, 1, 1]), { name: "c1/Conv" }), "Conv", "c1/Conv", "kernel 7 is larger than the padded input height 4+2*1=6");
    const { b: b2, xs: w } = setup([N, 1, 20, 4], [1, 1, 5, 5]);
    expectRule(() => op(b2, "Conv", w, window([5, 5], [1, 1], [0, 0, 0, 0]), { name: "c2/Conv" }), "Conv", "c2/Conv", "kernel 5 is larger than the padded input width 4+2*0=4");
    const { b: b3, xs: v } = setup([N, 1, 3, 20], [1, 1, 3, 3]);
    expectRule(
      () => op(b3, "Conv", v, window([3, 3], [1, 1], [1, 0, 0, 0], [2, 1]), { name: "c3/Conv" }),
      "Conv",
      "c3/Conv",
      "dilated kernel 5 (3 with dilation 2) is larger than the padded input height 3+1+0=4",
    );
  });

  test("rank errors and missing inputs", () => {
    const { b, xs } = setup([N, 400], [6, 400, 5, 5], [N, 3, 8, 8], [6, 3, 5]);
    expectRule(() => op(b, "Conv", [xs[0], xs[1]], {}, { name: "a/Conv" }), "Conv", "a/Conv", "input must be [N, C, spatial...], got rank 2 [N,400]");
    expectRule(() => op(b, "Conv", [xs[2], xs[3]], {}, { name: "b/Conv" }), "Conv", "b/Conv", "weight rank 3 does not match input rank 4");
    expectRule(() => op(b, "Conv", [xs[2], undefined], {}, { name: "c/Conv" }), "Conv", "c/Conv", "needs an input and a weight");
  });
});

describe("ConvTranspose", () => {
  test("output = s·(H−1) + output_padding + d·(k−1) + 1 − pb − pe", () => {
    const { b, xs } = setup([N, 16, 5, 5], [16, 8, 3, 3]);
    expect(op1(b, "ConvTranspose", xs, { ...window([3, 3], [2, 2], [1, 1, 1, 1]), output_padding: [1, 1] }).shape).toEqual([N, 8, 10, 10]);
    expect(op1(b, "ConvTranspose", xs, window([3, 3], [2, 2], [1, 1, 1, 1])).shape).toEqual([N, 8, 9, 9]);
    expect(op1(b, "ConvTranspose", xs).shape).toEqual([N, 8, 7, 7]);
    expect(op1(b, "ConvTranspose", xs, window([3, 3], [1, 1], [0, 0, 0, 0], [2, 2])).shape).toEqual([N, 8, 9, 9]);
  });

  test("groups multiply the output channels (depthwise, as AveragePool's gradient uses it)", () => {
    const { b, xs } = setup([N, 6, 14, 14], [6, 1, 2, 2]);
    expect(op1(b, "ConvTranspose", xs, { ...window([2, 2], [2, 2]), group: 6, output_padding: [0, 0] }).shape).toEqual([N, 6, 28, 28]);
  });

  test("inverts Conv: the transpose of AlexNet's conv1 maps [N,96,55,55] back to [N,1,224,224]", () => {
    const { b, xs } = setup([N, 96, 55, 55], [96, 1, 11, 11]);
    // (55−1)·4 + 11 − 4 = 223, plus output_padding 1 = 224 (the row conv1's last window never reached)
    expect(op1(b, "ConvTranspose", xs, { ...window([11, 11], [4, 4], [2, 2, 2, 2]), output_padding: [1, 1] }).shape).toEqual([N, 1, 224, 224]);
  });

  test("channel mismatch, symbolic spatial dims, missing weight", () => {
    const { b, xs } = setup([N, 4, 5, 5], [16, 8, 3, 3], [N, 16, "H", 5]);
    expectRule(() => op(b, "ConvTranspose", [xs[0], xs[1]], {}, { name: "up/ConvTranspose" }), "ConvTranspose", "up/ConvTranspose", "input has 4 channels, weight expects 16");
    const y = op1(b, "ConvTranspose", [xs[2], xs[1]], {}, { name: "up2/ConvTranspose" });
    expect(y.shape).toEqual([N, 8, "up2/ConvTranspose_0", 7]);
    expectRule(() => op(b, "ConvTranspose", [xs[0]], {}, { name: "up3" }), "ConvTranspose", "up3", "needs an input and a weight");
  });
});

// ---------------------------------------------------------------------------------------------
// Pooling

describe("MaxPool / AveragePool", () => {
  test("AlexNet's pools: 3×3 stride 2 on 55, 27 and 13 → 27, 13, 6", () => {
    const { b, xs } = setup([N, 96, 55, 55], [N, 256, 27, 27], [N, 256, 13, 13]);
    const attrs = window([3, 3], [2, 2], [0, 0, 0, 0]);
    expect(xs.map((x) => op1(b, "MaxPool", [x], attrs).shape)).toEqual([
      [N, 96, 27, 27],
      [N, 256, 13, 13],
      [N, 256, 6, 6],
    ]);
  });

  test("LeNet's average pools: 2×2 stride 2 on 28 and 10 → 14 and 5", () => {
    const { b, xs } = setup([N, 6, 28, 28], [N, 16, 10, 10]);
    expect(xs.map((x) => op1(b, "AveragePool", [x], window([2, 2], [2, 2])).shape)).toEqual([
      [N, 6, 14, 14],
      [N, 16, 5, 5],
    ]);
  });

  test("padding, count_include_pad, stride defaults to 1 in ONNX", () => {
    const { b, xs } = setup([1, 3, 7, 7]);
    expect(op1(b, "AveragePool", xs, { ...window([3, 3], [2, 2], [1, 1, 1, 1]), count_include_pad: 1 }).shape).toEqual([1, 3, 4, 4]);
    expect(op1(b, "MaxPool", xs, window([3, 3])).shape).toEqual([1, 3, 5, 5]);
  });

  test("ceil_mode rounds up where the last window still starts inside the input", () => {
    const { b, xs } = setup([1, 1, 6, 5]);
    // height: (6−3)/2 = 1.5 → floor 1 + 1 = 2, ceil 2 + 1 = 3; width: (5−3)/2 = 1 → 2 either way
    expect(op1(b, "MaxPool", xs, window([3, 3], [2, 2])).shape).toEqual([1, 1, 2, 2]);
    expect(op1(b, "MaxPool", xs, { ...window([3, 3], [2, 2]), ceil_mode: 1 }).shape).toEqual([1, 1, 3, 2]);
  });

  test("MaxPool's optional second output (argmax indices, used by its VJP) is int64 of the same shape", () => {
    const { b, xs } = setup([N, 96, 55, 55]);
    const [y, idx] = op(b, "MaxPool", xs, window([3, 3], [2, 2]), { outputs: 2, name: "pool1/MaxPool", outputNames: ["pool1", "pool1:1"] });
    expect(y).toMatchObject({ name: "pool1", dtype: "float32", shape: [N, 96, 27, 27] });
    expect(idx).toMatchObject({ name: "pool1:1", dtype: "int64", shape: [N, 96, 27, 27] });
  });

  test("symbolic spatial dims, kernel_shape required, rank and size errors", () => {
    const { b, xs } = setup([N, 8, "H", 9], [N, 8], [N, 8, 2, 2]);
    expect(b.scoped("pool9", () => op1(b, "MaxPool", [xs[0]], window([3, 3], [2, 2]))).shape).toEqual([N, 8, "pool9_height", 4]);
    expectRule(() => op(b, "MaxPool", [xs[0]], { strides: [2, 2] }, { name: "p/MaxPool" }), "MaxPool", "p/MaxPool", "kernel_shape must have 2 entries");
    expectRule(() => op(b, "AveragePool", [xs[0]], window([3]), { name: "q/AveragePool" }), "AveragePool", "q/AveragePool", "kernel_shape must have 2 entries");
    expectRule(() => op(b, "MaxPool", [xs[1]], window([3, 3]), { name: "r/MaxPool" }), "MaxPool", "r/MaxPool", "input must be [N, C, spatial...], got rank 2");
    expectRule(() => op(b, "MaxPool", [xs[2]], window([3, 3], [2, 2]), { name: "pool3/MaxPool" }), "MaxPool", "pool3/MaxPool", "kernel 3 is larger than the padded input height 2+2*0=2");
    expectRule(() => op(b, "AveragePool", [xs[2]], window([2, 3], [2, 2]), { name: "s/AveragePool" }), "AveragePool", "s/AveragePool", "kernel 3 is larger than the padded input width 2+2*0=2");
    expectRule(() => op(b, "MaxPool", [undefined], window([3, 3]), { name: "t/MaxPool" }), "MaxPool", "t/MaxPool", "needs an input");
  });
});

// ---------------------------------------------------------------------------------------------
// Gemm / MatMul

describe("Gemm", () => {
  test("Linear layers: [N,9216]·[4096,9216]ᵀ + [4096] → [N,4096] (transB=1)", () => {
    const { b, xs } = setup([N, 9216], [4096, 9216], [4096]);
    expect(op1(b, "Gemm", xs, { transB: 1 }).shape).toEqual([N, 4096]);
  });

  test("transA / transB / no bias / bias broadcast from 1 or [M,N]", () => {
    const { b, xs } = setup([5, 3], [5, 7], [3, 7], [1], [3, 5]);
    expect(op1(b, "Gemm", [xs[0], xs[1]], { transA: 1 }).shape).toEqual([3, 7]);
    expect(op1(b, "Gemm", [xs[0], xs[1], xs[3]], { transA: 1 }).shape).toEqual([3, 7]);
    expect(op1(b, "Gemm", [xs[2], xs[1], xs[4]], { transB: 1, alpha: 0.5, beta: 2 }).shape).toEqual([3, 5]);
  });

  test("feature mismatch names the numbers, the weight shape and transB", () => {
    const { b, xs } = setup([N, 9216], [4096, 9000], [9000, 4096]);
    expectRule(
      () => op(b, "Gemm", [xs[0], xs[1]], { transB: 1 }, { name: "fc1/Gemm" }),
      "Gemm",
      "fc1/Gemm",
      "input has 9216 features, weight expects 9000 (weight [4096,9000], transB)",
    );
    expectRule(() => op(b, "Gemm", [xs[0], xs[2]], {}, { name: "fc2/Gemm" }), "Gemm", "fc2/Gemm", "input has 9216 features, weight expects 9000 (weight [9000,4096])");
  });

  test("bias and rank errors", () => {
    const { b, xs } = setup([N, 84], [10, 84], [9], [N, 256, 6, 6], [4096, 9216]);
    expectRule(() => op(b, "Gemm", [xs[0], xs[1], xs[2]], { transB: 1 }, { name: "fc3/Gemm" }), "Gemm", "fc3/Gemm", "bias has 9 entries, output has 10 features");
    expectRule(
      () => op(b, "Gemm", [xs[3], xs[4]], { transB: 1 }, { name: "fc1/Gemm" }),
      "Gemm",
      "fc1/Gemm",
      "inputs must be matrices, got [N,256,6,6] and [4096,9216]",
    );
    expectRule(() => op(b, "Gemm", [xs[0]], {}, { name: "g" }), "Gemm", "g", "needs two inputs");
  });
});

describe("MatMul", () => {
  test("[M,K]·[K,N] → [M,N], symbolic rows pass through", () => {
    const { b, xs } = setup([N, 4], [4, 5]);
    expect(op1(b, "MatMul", xs).shape).toEqual([N, 5]);
  });

  test("batched: batch dims broadcast, the matrix dims multiply", () => {
    const { b, xs } = setup([N, 8, 16, 32], [32, 16], [1, 8, 32, 5], [2, 1, 3, 4], [5, 4, 6]);
    expect(op1(b, "MatMul", [xs[0], xs[1]]).shape).toEqual([N, 8, 16, 16]);
    expect(op1(b, "MatMul", [xs[0], xs[2]]).shape).toEqual([N, 8, 16, 5]);
    expect(op1(b, "MatMul", [xs[3], xs[4]]).shape).toEqual([2, 5, 3, 6]);
  });

  test("inner-dimension mismatch, batch mismatch and rank errors", () => {
    const { b, xs } = setup([3, 4], [5, 6], [2, 3, 4], [4], [3, 4, 5]);
    expectRule(() => op(b, "MatMul", [xs[0], xs[1]], {}, { name: "mm" }), "MatMul", "mm", "inner dimensions differ: [3,4] · [5,6] (4 vs 5)");
    expectRule(() => op(b, "MatMul", [xs[3], xs[1]], {}, { name: "mm2" }), "MatMul", "mm2", "operands must have rank 2 or more, got [4] and [5,6]");
    expectRule(
      () => op(b, "MatMul", [xs[2], xs[4]], {}, { name: "mm3" }),
      "MatMul",
      "mm3",
      "batch dims of [2,3,4] and [3,4,5] do not broadcast (axis 0: 2 vs 3)",
    );
  });
});

// ---------------------------------------------------------------------------------------------
// Layout ops

describe("Flatten", () => {
  test("axis 1 keeps the symbolic batch: [N,256,6,6] → [N,9216]", () => {
    const { b, xs } = setup([N, 256, 6, 6]);
    expect(op1(b, "Flatten", xs, { axis: 1 }).shape).toEqual([N, 9216]);
    expect(op1(b, "Flatten", xs).shape).toEqual([N, 9216]); // default axis is 1
  });

  test("other axes fold the symbol into a product", () => {
    const { b, xs } = setup([N, 256, 6, 6], [2, 3, 4]);
    expect(op1(b, "Flatten", [xs[0]], { axis: 0 }).shape).toEqual([1, "N*9216"]);
    expect(op1(b, "Flatten", [xs[0]], { axis: 2 }).shape).toEqual(["N*256", 36]);
    expect(op1(b, "Flatten", [xs[0]], { axis: 4 }).shape).toEqual(["N*9216", 1]);
    expect(op1(b, "Flatten", [xs[1]], { axis: 3 }).shape).toEqual([24, 1]);
  });

  test("axis out of range", () => {
    const { b, xs } = setup([N, 256, 6, 6]);
    expectRule(() => op(b, "Flatten", xs, { axis: 5 }, { name: "flatten1/Flatten" }), "Flatten", "flatten1/Flatten", "axis 5 is out of range for rank 4");
  });
});

describe("Reshape", () => {
  test("0 copies a dim, −1 is inferred, also through the symbolic batch", () => {
    const { b, xs } = setup([N, 256, 6, 6], [2, 3, 4], [N, 9216]);
    expect(op1(b, "Reshape", [xs[0], b.ints([-1, 9216])]).shape).toEqual([N, 9216]);
    expect(op1(b, "Reshape", [xs[2], b.ints([-1, 256, 6, 6])]).shape).toEqual([N, 256, 6, 6]);
    expect(op1(b, "Reshape", [xs[0], b.ints([-1, 36])]).shape).toEqual(["N*256", 36]);
    expect(op1(b, "Reshape", [xs[0], b.ints([-1])]).shape).toEqual(["N*9216"]);
    expect(op1(b, "Reshape", [xs[1], b.ints([4, -1])]).shape).toEqual([4, 6]);
    expect(op1(b, "Reshape", [xs[1], b.ints([0, 0, -1])]).shape).toEqual([2, 3, 4]);
    expect(op1(b, "Reshape", [xs[1], b.ints([0, 12])]).shape).toEqual([2, 12]);
    expect(op1(b, "Reshape", [xs[1], b.ints([-1, 2, 2])]).shape).toEqual([6, 2, 2]);
  });

  test("a target from Shape(x) gives x's (symbolic) shape", () => {
    const { b, xs } = setup([N, 6], [N, 2, 3]);
    const s = op1(b, "Shape", [xs[1]]);
    expect(s).toMatchObject({ dtype: "int64", shape: [3] });
    expect(op1(b, "Reshape", [xs[0], s]).shape).toEqual([N, 2, 3]);
  });

  test("a target unknown at build time gives named dims of the right rank", () => {
    const { b, xs } = setup([N, 6]);
    const t = input(b, "target", [3], "int64");
    expect(b.scoped("r", () => op1(b, "Reshape", [xs[0], t])).shape).toEqual(["r_0", "r_1", "r_2"]);
    const u = input(b, "target2", ["R"], "int64");
    expectRule(() => op(b, "Reshape", [xs[0], u], {}, { name: "r2/Reshape" }), "Reshape", "r2/Reshape", "the target shape's rank must be known");
  });

  test("element counts that do not divide name the shapes", () => {
    const { b, xs } = setup([2, 3, 4], [N, 10]);
    expectRule(() => op(b, "Reshape", [xs[0], b.ints([5, -1])], {}, { name: "r/Reshape" }), "Reshape", "r/Reshape", "cannot reshape [2,3,4] (24 elements) to [5,-1]");
    expectRule(() => op(b, "Reshape", [xs[1], b.ints([-1, 3])], {}, { name: "s/Reshape" }), "Reshape", "s/Reshape", "cannot reshape [N,10] to [-1,3]");
    expectRule(() => op(b, "Reshape", [xs[0]], {}, { name: "t/Reshape" }), "Reshape", "t/Reshape", "needs data and a shape");
  });
});

describe("Transpose", () => {
  test("perm, default reversal, and the batch/channel swap of Conv's weight gradient", () => {
    const { b, xs } = setup([N, 256, 6, 5]);
    expect(op1(b, "Transpose", xs, { perm: [1, 0, 2, 3] }).shape).toEqual([256, N, 6, 5]);
    expect(op1(b, "Transpose", xs, { perm: [0, 2, 3, 1] }).shape).toEqual([N, 6, 5, 256]);
    expect(op1(b, "Transpose", xs).shape).toEqual([5, 6, 256, N]);
  });

  test("perm of the wrong length", () => {
    const { b, xs } = setup([N, 256, 6, 6]);
    expectRule(() => op(b, "Transpose", xs, { perm: [1, 0] }, { name: "tr" }), "Transpose", "tr", "perm [1,0] does not match rank 4");
  });
});

describe("Slice", () => {
  test("constant starts/ends/axes; negative indices and ends past the end are clamped", () => {
    const { b, xs } = setup([N, 3, 10, 12]);
    expect(op1(b, "Slice", [xs[0], b.ints([2]), b.ints([8]), b.ints([2])]).shape).toEqual([N, 3, 6, 12]);
    expect(op1(b, "Slice", [xs[0], b.ints([1, -4]), b.ints([-1, 1000]), b.ints([2, -1])]).shape).toEqual([N, 3, 8, 4]);
    expect(op1(b, "Slice", [xs[0], b.ints([0, 0, 0]), b.ints([11, 11, 11]), b.ints([1, 2, 3])]).shape).toEqual([N, 3, 10, 11]);
    expect(op1(b, "Slice", [xs[0], b.ints([5]), b.ints([2]), b.ints([3])]).shape).toEqual([N, 3, 10, 0]);
  });

  test("axes default to 0..k−1; a sliced symbolic axis gets a name", () => {
    const { b, xs } = setup([7, 3, 10], [N, 3]);
    expect(op1(b, "Slice", [xs[0], b.ints([1, 1]), b.ints([4, 3])]).shape).toEqual([3, 2, 10]);
    expect(op(b, "Slice", [xs[1], b.ints([0]), b.ints([1]), b.ints([0])], {}, { name: "sl" })[0].shape).toEqual(["sl_0", 3]);
    expectRule(() => op(b, "Slice", [xs[1], b.ints([0]), b.ints([1]), b.ints([2])], {}, { name: "sl3" }), "Slice", "sl3", "axis 2 is out of range for rank 2");
  });

  test("steps, positive and negative, follow numpy's slicing (lengths checked against Python's range)", () => {
    // [size, start, end, step, len(range(size)[start:end:step])]
    const cases: [number, number, number, number, number][] = [
      [10, 0, 10, 2, 5],
      [10, 1, 10, 3, 3],
      [10, -1, -11, -1, 10],
      [10, 9, 0, -2, 5],
      [10, -1, -1000, -3, 4],
      [10, 5, 2, 1, 0],
      [10, 2, 5, -1, 0],
      [10, 0, 1000, 4, 3],
      [10, -3, 1000, 1, 3],
      [5, 100, -100, -1, 5],
      [5, -100, 100, 2, 3],
    ];
    for (const [size, start, end, step, len] of cases) {
      const { b, xs } = setup([N, size]);
      const y = op1(b, "Slice", [xs[0], b.ints([start]), b.ints([end]), b.ints([1]), b.ints([step])]);
      expect({ case: [size, start, end, step], shape: y.shape }).toEqual({ case: [size, start, end, step], shape: [N, len] });
    }
  });

  test("a zero step; starts unknown at build time give a named length; axes must be known", () => {
    const { b, xs } = setup([7, 3]);
    expectRule(() => op(b, "Slice", [xs[0], b.ints([0]), b.ints([4]), b.ints([0]), b.ints([0])], {}, { name: "sl" }), "Slice", "sl", "steps must be non-zero");
    const starts = input(b, "starts", [1], "int64");
    expect(op(b, "Slice", [xs[0], starts, b.ints([4]), b.ints([0])], {}, { name: "sl2" })[0].shape).toEqual(["sl2_0", 3]);
    const axes = input(b, "axes", [1], "int64");
    expectRule(() => op(b, "Slice", [xs[0], b.ints([0]), b.ints([4]), axes], {}, { name: "sl4" }), "Slice", "sl4", "alexc supports Slice with constant axes and steps");
  });
});

describe("Concat / Pad", () => {
  test("Concat adds the sizes along the axis (negative axis too); a symbolic one gets a name", () => {
    const { b, xs } = setup([N, 3, 4], [N, 5, 4], [N, 3, 2], [N, 3, "W"]);
    expect(op1(b, "Concat", [xs[0], xs[1]], { axis: 1 }).shape).toEqual([N, 8, 4]);
    expect(op1(b, "Concat", [xs[0], xs[2], xs[0]], { axis: -1 }).shape).toEqual([N, 3, 10]);
    expect(op1(b, "Concat", [xs[0], xs[3]], { axis: 2 }, { name: "cat" }).shape).toEqual([N, 3, "cat_2"]);
  });

  test("Concat: shapes that differ outside the axis, and no inputs", () => {
    const { b, xs } = setup([N, 3, 4], [N, 5, 5], [N, 3]);
    expectRule(
      () => op(b, "Concat", [xs[0], xs[1]], { axis: 1 }, { name: "cat" }),
      "Concat",
      "cat",
      "inputs [N,3,4] and [N,5,5] differ at axis 2 (4 vs 5); only the concat axis 1 may differ",
    );
    expectRule(() => op(b, "Concat", [xs[0], xs[2]], { axis: 1 }, { name: "cat2" }), "Concat", "cat2", "inputs [N,3,4] and [N,3] differ in rank (3 vs 2)");
    expectRule(() => op(b, "Concat", [], { axis: 0 }, { name: "cat3" }), "Concat", "cat3", "needs inputs");
  });

  test("Pad with constant pads (ONNX order: all begins, then all ends)", () => {
    const { b, xs } = setup([N, 3, 4, 5]);
    expect(op1(b, "Pad", [xs[0], b.ints([0, 0, 1, 2, 0, 0, 3, 4])]).shape).toEqual([N, 3, 8, 11]);
    expect(op1(b, "Pad", [xs[0], b.ints([0, 0, 0, 0, 0, 0, 0, 0])], { mode: "constant" }).shape).toEqual([N, 3, 4, 5]);
    expect(op1(b, "Pad", [xs[0], b.ints([1, 0, 0, 0, 0, 0, 0, 0])], {}, { name: "pad" }).shape).toEqual(["pad_0", 3, 4, 5]);
  });

  test("Pad: wrong number of pads, pads unknown at build time", () => {
    const { b, xs } = setup([N, 3, 4, 5]);
    expectRule(() => op(b, "Pad", [xs[0], b.ints([1, 1, 1, 1])], {}, { name: "pad" }), "Pad", "pad", "pads has 4 entries, rank 4 needs 8");
    const pads = input(b, "pads", [8], "int64");
    expectRule(() => op(b, "Pad", [xs[0], pads], {}, { name: "pad2" }), "Pad", "pad2", "needs an input and constant pads");
  });
});

describe("Expand / Shape / Size / ConstantOfShape", () => {
  test("Expand broadcasts to a known shape", () => {
    const { b, xs } = setup([3, 1]);
    expect(op1(b, "Expand", [xs[0], b.ints([2, 1, 4])]).shape).toEqual([2, 3, 4]);
    expectRule(() => op(b, "Expand", [xs[0], b.ints([2, 4])], {}, { name: "ex" }), "Expand", "ex", "shapes [3,1] and [2,4] do not broadcast (axis 0: 3 vs 2)");
    const t = input(b, "t", [2], "int64");
    expectRule(() => op(b, "Expand", [xs[0], t], {}, { name: "ex2" }), "Expand", "ex2", "needs data and a known shape");
  });

  test("Shape is int64 [rank]; Size is an int64 scalar", () => {
    const { b, xs } = setup([N, 3, 4]);
    expect(op1(b, "Shape", xs)).toMatchObject({ dtype: "int64", shape: [3] });
    expect(op1(b, "Size", xs)).toMatchObject({ dtype: "int64", shape: [] });
  });

  test("ConstantOfShape takes its dtype from value and its shape from a constant or Shape(x)", () => {
    const { b, xs } = setup([N, 96, 55, 55]);
    expect(op1(b, "ConstantOfShape", [op1(b, "Shape", xs)], { value: makeTensor("", "float32", [1], [0]) })).toMatchObject({
      dtype: "float32",
      shape: [N, 96, 55, 55],
    });
    expect(op1(b, "ConstantOfShape", [b.ints([2, 3])], { value: makeTensor("", "int64", [1], [7]) })).toMatchObject({ dtype: "int64", shape: [2, 3] });
    expect(op1(b, "ConstantOfShape", [b.ints([4])])).toMatchObject({ dtype: "float32", shape: [4] });
    const t = input(b, "t", [2], "int64");
    expectRule(() => op(b, "ConstantOfShape", [t], {}, { name: "cos" }), "ConstantOfShape", "cos", "the shape must be known at build time");
  });

  test("ConstantOfShape follows a shape through Slice (constant bounds) and Concat of shapes", () => {
    const { b, xs } = setup([N, 96, 55, 55]);
    const batch = op1(b, "Slice", [op1(b, "Shape", xs), b.ints([0]), b.ints([1])]);
    expect(op1(b, "ConstantOfShape", [op1(b, "Concat", [batch, b.ints([7, 8])], { axis: 0 })])).toMatchObject({ shape: [N, 7, 8] });
    const tail = op1(b, "Slice", [op1(b, "Shape", xs), b.ints([-2]), b.ints([1000])]);
    expect(op1(b, "ConstantOfShape", [tail])).toMatchObject({ shape: [55, 55] });
    // A Concat with a part that is not a known shape leaves the shape unknown.
    const t = input(b, "part", [1], "int64");
    const unknown = op1(b, "Concat", [batch, t], { axis: 0 });
    expectRule(() => op(b, "ConstantOfShape", [unknown], {}, { name: "cos2" }), "ConstantOfShape", "cos2", "the shape must be known at build time");
  });
});

// ---------------------------------------------------------------------------------------------
// Reductions

describe("ReduceSum / ReduceMean / Unsqueeze", () => {
  test("ReduceSum: axes as a constant input (opset 13+), keepdims default 1", () => {
    const { b, xs } = setup([N, 96, 55, 55]);
    expect(op1(b, "ReduceSum", [xs[0], b.ints([0, 2, 3])], { keepdims: 0 }).shape).toEqual([96]);
    expect(op1(b, "ReduceSum", [xs[0], b.ints([0, 2, 3])]).shape).toEqual([1, 96, 1, 1]);
    expect(op1(b, "ReduceSum", [xs[0], b.ints([-1])], { keepdims: 0 }).shape).toEqual([N, 96, 55]);
    expect(op1(b, "ReduceSum", [xs[0]], { keepdims: 0 }).shape).toEqual([]);
    expect(op1(b, "ReduceSum", [xs[0]]).shape).toEqual([1, 1, 1, 1]);
  });

  test("ReduceSum: out-of-range and non-constant axes", () => {
    const { b, xs } = setup([N, 10]);
    expectRule(() => op(b, "ReduceSum", [xs[0], b.ints([2])], {}, { name: "rs" }), "ReduceSum", "rs", "axis 2 is out of range for rank 2");
    expectRule(() => op(b, "ReduceSum", [xs[0], b.ints([-3])], {}, { name: "rs2" }), "ReduceSum", "rs2", "axis -3 is out of range for rank 2");
    const axes = input(b, "axes", [1], "int64");
    expectRule(() => op(b, "ReduceSum", [xs[0], axes], {}, { name: "rs3" }), "ReduceSum", "rs3", "axes must be constant");
  });

  test("ReduceMean: axes as an attribute (opset 17)", () => {
    const { b, xs } = setup([N, 10, 4]);
    expect(op1(b, "ReduceMean", xs, { axes: [1], keepdims: 0 }).shape).toEqual([N, 4]);
    expect(op1(b, "ReduceMean", xs, { axes: [-1, 1] }).shape).toEqual([N, 1, 1]);
    expect(op1(b, "ReduceMean", xs, { keepdims: 0 }).shape).toEqual([]);
    expectRule(() => op(b, "ReduceMean", xs, { axes: [3] }, { name: "rm" }), "ReduceMean", "rm", "axis 3 is out of range for rank 3");
  });

  test("ReduceMax: axes as an attribute, like ReduceMean", () => {
    const { b, xs } = setup([N, 10]);
    expect(op1(b, "ReduceMax", xs, { axes: [1], keepdims: 1 }).shape).toEqual([N, 1]);
    expect(op1(b, "ReduceMax", xs, { axes: [1], keepdims: 0 }).shape).toEqual([N]);
    expectRule(() => op(b, "ReduceMax", xs, { axes: [2] }, { name: "rmax" }), "ReduceMax", "rmax", "axis 2 is out of range for rank 2");
  });

  test("Unsqueeze inserts 1s at the (output-rank) axes", () => {
    const { b, xs } = setup([96], [N, 10]);
    expect(op1(b, "Unsqueeze", [xs[0], b.ints([0, 2, 3])]).shape).toEqual([1, 96, 1, 1]);
    expect(op1(b, "Unsqueeze", [xs[1], b.ints([1])]).shape).toEqual([N, 1, 10]);
    expect(op1(b, "Unsqueeze", [xs[1], b.ints([-1])]).shape).toEqual([N, 10, 1]);
    const axes = input(b, "axes", [1], "int64");
    expectRule(() => op(b, "Unsqueeze", [xs[1], axes], {}, { name: "un" }), "Unsqueeze", "un", "needs an input and constant axes");
  });
});

// ---------------------------------------------------------------------------------------------
// Broadcasting elementwise ops

describe("broadcasting: Add / Sub / Mul / Div / Pow / Greater / Less / Equal / Where", () => {
  test("numpy rules: right-aligned, 1s stretch, scalars, symbolic dims", () => {
    const { b, xs } = setup([N, 3, 1], [4], [], [2, 3], [N, 1], [1, 5], [1, N], [3, 1]);
    expect(op1(b, "Add", [xs[0], xs[1]]).shape).toEqual([N, 3, 4]);
    expect(op1(b, "Mul", [xs[2], xs[3]]).shape).toEqual([2, 3]);
    expect(op1(b, "Mul", [xs[3], xs[2]]).shape).toEqual([2, 3]);
    expect(op1(b, "Sub", [xs[4], xs[5]]).shape).toEqual([N, 5]);
    expect(op1(b, "Div", [xs[6], xs[7]]).shape).toEqual([3, N]);
    expect(op1(b, "Pow", [xs[3], xs[2]])).toMatchObject({ dtype: "float32", shape: [2, 3] });
  });

  test("comparisons give bool; Where takes its dtype from the branches, not the condition", () => {
    const { b, xs } = setup([N, 4096], [], [2, 1], [1, 3]);
    expect(op1(b, "Greater", [xs[0], xs[1]])).toMatchObject({ dtype: "bool", shape: [N, 4096] });
    expect(op1(b, "Less", [xs[2], xs[3]])).toMatchObject({ dtype: "bool", shape: [2, 3] });
    expect(op1(b, "Equal", [xs[2], xs[3]])).toMatchObject({ dtype: "bool", shape: [2, 3] });
    const cond = input(b, "cond", [2, 1], "bool");
    expect(op1(b, "Where", [cond, xs[3], xs[1]])).toMatchObject({ dtype: "float32", shape: [2, 3] });
    const c2 = input(b, "c2", [N, 4096], "bool");
    expect(op1(b, "Where", [c2, xs[0], xs[1]])).toMatchObject({ dtype: "float32", shape: [N, 4096] });
  });

  test("shapes that do not broadcast: every shape and the failing axis are named", () => {
    const { b, xs } = setup([2, 3], [4, 3], [N, 3, 5], [4, 1], [2, 1], [3]);
    expectRule(() => op(b, "Add", [xs[0], xs[1]], {}, { name: "add" }), "Add", "add", "shapes [2,3] and [4,3] do not broadcast (axis 0: 2 vs 4)");
    expectRule(() => op(b, "Mul", [xs[2], xs[3]], {}, { name: "mul" }), "Mul", "mul", "shapes [N,3,5] and [4,1] do not broadcast (axis 1: 3 vs 4)");
    const cond = input(b, "cond", [2, 1], "bool");
    expectRule(
      () => op(b, "Where", [cond, xs[5], xs[3]], {}, { name: "where" }),
      "Where",
      "where",
      "shapes [2,1] and [3] and [4,1] do not broadcast (axis 0: 2 vs 4)",
    );
  });

  test("mixed dtypes and missing inputs", () => {
    const { b, xs } = setup([2, 3]);
    const i = input(b, "i", [2, 3], "int64");
    expectRule(() => op(b, "Add", [xs[0], i], {}, { name: "add" }), "Add", "add", "input types differ: float32 vs int64");
    expectRule(() => op(b, "Sub", [xs[0]], {}, { name: "sub" }), "Sub", "sub", "needs 2 inputs");
    expectRule(() => op(b, "Where", [undefined, xs[0], xs[0]], {}, { name: "w" }), "Where", "w", "needs 3 inputs");
    const cond = input(b, "cond", [2, 3], "bool");
    expectRule(() => op(b, "Where", [cond, xs[0], i], {}, { name: "w2" }), "Where", "w2", "input types differ: float32 vs int64");
  });
});

// ---------------------------------------------------------------------------------------------
// Softmax family, loss, OneHot, ArgMax

describe("SoftmaxCrossEntropyLoss", () => {
  test("mean (default) → scalar; none → [N]; second output is the log-probabilities", () => {
    const { b, xs } = setup([N, 10]);
    const labels = input(b, "labels", [N], "int64");
    expect(op1(b, "SoftmaxCrossEntropyLoss", [xs[0], labels])).toMatchObject({ dtype: "float32", shape: [] });
    expect(op1(b, "SoftmaxCrossEntropyLoss", [xs[0], labels], { reduction: "mean" }).shape).toEqual([]);
    expect(op1(b, "SoftmaxCrossEntropyLoss", [xs[0], labels], { reduction: "sum" }).shape).toEqual([]);
    expect(op1(b, "SoftmaxCrossEntropyLoss", [xs[0], labels], { reduction: "none" }).shape).toEqual([N]);
    const [loss, logp] = op(b, "SoftmaxCrossEntropyLoss", [xs[0], labels], {}, { outputs: 2 });
    expect(loss.shape).toEqual([]);
    expect(logp).toMatchObject({ dtype: "float32", shape: [N, 10] });
    const i32 = input(b, "labels32", [N], "int32");
    expect(op1(b, "SoftmaxCrossEntropyLoss", [xs[0], i32]).shape).toEqual([]);
  });

  test("scores rank, labels rank and type, row count", () => {
    const { b, xs } = setup([N, 10, 1], [4, 10], [N, 10]);
    const labels = input(b, "labels", [N], "int64");
    const col = input(b, "col", [N, 1], "int64");
    const five = input(b, "five", [5], "int64");
    const fl = input(b, "fl", [N]);
    const name = { name: "loss" };
    expectRule(() => op(b, "SoftmaxCrossEntropyLoss", [xs[0], labels], {}, name), "SoftmaxCrossEntropyLoss", "loss", "scores must be [N, classes], got [N,10,1]");
    expectRule(() => op(b, "SoftmaxCrossEntropyLoss", [xs[2], col], {}, { name: "l2" }), "SoftmaxCrossEntropyLoss", "l2", "labels must be [N], got [N,1]");
    expectRule(() => op(b, "SoftmaxCrossEntropyLoss", [xs[2], fl], {}, { name: "l3" }), "SoftmaxCrossEntropyLoss", "l3", "labels must be integers, got float32");
    expectRule(() => op(b, "SoftmaxCrossEntropyLoss", [xs[1], five], {}, { name: "l4" }), "SoftmaxCrossEntropyLoss", "l4", "4 score rows but 5 labels");
    expectRule(() => op(b, "SoftmaxCrossEntropyLoss", [xs[1]], {}, { name: "l5" }), "SoftmaxCrossEntropyLoss", "l5", "needs scores and labels");
  });
});

describe("Softmax / LogSoftmax", () => {
  test("keep shape and dtype", () => {
    const { b, xs } = setup([N, 10]);
    expect(op1(b, "Softmax", xs, { axis: 1 })).toMatchObject({ dtype: "float32", shape: [N, 10] });
    expect(op1(b, "LogSoftmax", xs, { axis: -1 })).toMatchObject({ dtype: "float32", shape: [N, 10] });
  });
});

describe("OneHot", () => {
  test("appends the constant depth as the last axis, dtype of the values", () => {
    const { b } = setup();
    const labels = input(b, "labels", [N], "int64");
    const values = b.constant("float32", [2], [0, 1]);
    expect(op1(b, "OneHot", [labels, b.ints([10]), values], { axis: -1 })).toMatchObject({ dtype: "float32", shape: [N, 10] });
    const v64 = b.constant("float64", [2], [0, 1]);
    expect(op1(b, "OneHot", [labels, b.ints([7]), v64])).toMatchObject({ dtype: "float64", shape: [N, 7] });
  });

  test("a depth unknown at build time", () => {
    const { b } = setup();
    const labels = input(b, "labels", [N], "int64");
    const depth = input(b, "depth", [1], "int64");
    expectRule(() => op(b, "OneHot", [labels, depth, b.constant("float32", [2], [0, 1])], {}, { name: "oh" }), "OneHot", "oh", "needs indices, a constant depth and values");
  });
});

describe("ArgMax", () => {
  test("int64; keepdims default 1; axis default 0; negative axis", () => {
    const { b, xs } = setup([N, 10]);
    expect(op1(b, "ArgMax", xs, { axis: 1, keepdims: 0 })).toMatchObject({ dtype: "int64", shape: [N] });
    expect(op1(b, "ArgMax", xs, { axis: 1 }).shape).toEqual([N, 1]);
    expect(op1(b, "ArgMax", xs).shape).toEqual([1, 10]);
    expect(op1(b, "ArgMax", xs, { axis: -1, keepdims: 0 }).shape).toEqual([N]);
  });
});

// ---------------------------------------------------------------------------------------------
// Dropout, Resize, ScatterElements, Cast, unary ops

describe("Dropout", () => {
  test("one output: same type; two outputs: the bool keep-mask too", () => {
    const { b, xs } = setup([N, 4096]);
    const ratio = b.scalar(0.5);
    const training = b.constant("bool", [], [1]);
    const [y] = op(b, "Dropout", [xs[0], ratio], { seed: 3 });
    expect(y).toMatchObject({ dtype: "float32", shape: [N, 4096] });
    expect(op(b, "Dropout", [xs[0]]).length).toBe(1);
    const outs = op(b, "Dropout", [xs[0], ratio, training], { seed: 3 }, { outputs: 2, name: "dropout1/Dropout", outputNames: ["dropout1", "dropout1:1"] });
    expect(outs).toEqual([
      { name: "dropout1", dtype: "float32", shape: [N, 4096] },
      { name: "dropout1:1", dtype: "bool", shape: [N, 4096] },
    ]);
    // default output names for the second output: <node>:1
    const [, mask] = op(b, "Dropout", [xs[0], ratio, training], {}, { outputs: 2, name: "d2" });
    expect(mask.name).toBe("d2:1");
  });

  test("the ratio must be a scalar", () => {
    const { b, xs } = setup([N, 4096]);
    expectRule(() => op(b, "Dropout", [xs[0], b.constant("float32", [1], [0.5])], {}, { name: "dropout1/Dropout" }), "Dropout", "dropout1/Dropout", "ratio must be a scalar");
    expectRule(() => op(b, "Dropout", [undefined], {}, { name: "d" }), "Dropout", "d", "needs an input");
  });
});

describe("Resize", () => {
  test("constant scales: floor(dim·scale); 28 → 224 bilinear upsampling of the input pipeline", () => {
    const { b, xs } = setup([N, 1, 28, 28], [1, 3, 7, 10]);
    const attrs = { mode: "linear", coordinate_transformation_mode: "half_pixel" };
    expect(op1(b, "Resize", [xs[0], undefined, b.constant("float32", [4], [1, 1, 8, 8])], attrs).shape).toEqual([N, 1, 224, 224]);
    expect(op1(b, "Resize", [xs[1], undefined, b.constant("float32", [4], [1, 1, 1.5, 0.5])], attrs).shape).toEqual([1, 3, 10, 5]);
  });

  test("a symbolic dim scaled by ≠ 1 becomes a new symbol", () => {
    const { b, xs } = setup([N, 1, 28, 28]);
    expect(op1(b, "Resize", [xs[0], undefined, b.constant("float32", [4], [2, 1, 1, 1])]).shape).toEqual(["N_scaled", 1, 28, 28]);
  });

  test("scales of the wrong rank, or unknown at build time", () => {
    const { b, xs } = setup([N, 1, 28, 28]);
    expectRule(() => op(b, "Resize", [xs[0], undefined, b.constant("float32", [3], [1, 8, 8])], {}, { name: "rs" }), "Resize", "rs", "scales [1,8,8] do not match input rank 4");
    const scales = input(b, "scales", [4]);
    expectRule(() => op(b, "Resize", [xs[0], undefined, scales], {}, { name: "rs2" }), "Resize", "rs2", "needs an input and constant scales");
  });
});

describe("ScatterElements", () => {
  test("output has data's type (MaxPool's gradient scatters into a flat zero tensor)", () => {
    const { b } = setup();
    const data = input(b, "data", ["N*290400"]);
    const idx = input(b, "idx", ["N*69984"], "int64");
    const upd = input(b, "upd", ["N*69984"]);
    expect(op1(b, "ScatterElements", [data, idx, upd], { axis: 0, reduction: "add" })).toMatchObject({ dtype: "float32", shape: ["N*290400"] });
    expectRule(() => op(b, "ScatterElements", [data, idx], {}, { name: "sc" }), "ScatterElements", "sc", "needs data, indices and updates");
  });
});

describe("Cast", () => {
  test("`to` (an ONNX TensorProto.DataType code) sets the dtype, shape unchanged", () => {
    const { b, xs } = setup([N, 10]);
    const codes: [number, DType][] = [
      [1, "float32"],
      [2, "uint8"],
      [6, "int32"],
      [7, "int64"],
      [9, "bool"],
      [11, "float64"],
    ];
    for (const [to, dtype] of codes) expect(op1(b, "Cast", xs, { to })).toMatchObject({ dtype, shape: [N, 10] });
  });

  test("a type alexc does not emit is an internal error naming the code", () => {
    const { b, xs } = setup([N, 10]);
    expect(() => op(b, "Cast", xs, { to: 10 })).toThrow("internal: Cast to unsupported type 10");
  });
});

describe("unary ops keep shape and dtype", () => {
  test.each(["Relu", "Sigmoid", "Tanh", "Exp", "Log", "Neg", "Sqrt", "Abs", "Sign", "Round", "Ceil", "Identity"])("%s", (type) => {
    const { b, xs } = setup([N, 96, 55, 55]);
    expect(op1(b, type, xs)).toMatchObject({ dtype: "float32", shape: [N, 96, 55, 55] });
    expectRule(() => op(b, type, [undefined], {}, { name: "u" }), type, "u", "needs an input");
  });

  test("Clip takes scalar bounds of the input's type", () => {
    const { b, xs } = setup([N, 96, 13, 13]);
    const [x] = xs;
    expect(op1(b, "Clip", [x, b.scalar(0), b.scalar(1)])).toMatchObject({ dtype: "float32", shape: [N, 96, 13, 13] });
    expect(op1(b, "Clip", [x, undefined, b.scalar(1)])).toMatchObject({ dtype: "float32", shape: [N, 96, 13, 13] });
    expectRule(() => op(b, "Clip", [x, b.constant("float32", [2], [0, 1])], {}, { name: "clip" }), "Clip", "clip", "bounds must be float32 scalars, got float32[2]");
    expectRule(() => op(b, "Clip", [x, b.scalar(0, "int64")], {}, { name: "clip64" }), "Clip", "clip64", "bounds must be float32 scalars, got int64[]");
  });

  test("Not on bool", () => {
    const { b } = setup();
    const m = input(b, "m", [N, 3], "bool");
    expect(op1(b, "Not", [m])).toMatchObject({ dtype: "bool", shape: [N, 3] });
  });
});

// ---------------------------------------------------------------------------------------------
// Rules the DSL's training trace relies on

describe("training trace (what autodiff differentiates)", () => {
  test("MaxPool gets its argmax output and Dropout its mask; inference has neither", () => {
    const { b, output } = traceShapes(alexnet, true);
    expect(output.shape).toEqual([N, 10]);
    const pool = b.nodes.find((n) => n.name === "train/pool1/MaxPool")!;
    expect(pool.outputs).toEqual([
      { name: "train/pool1", dtype: "float32", shape: [N, 96, 27, 27] },
      { name: "train/pool1:1", dtype: "int64", shape: [N, 96, 27, 27] },
    ]);
    const drop = b.nodes.find((n) => n.name === "train/dropout1/Dropout")!;
    expect(drop.outputs.map((o) => [o.dtype, o.shape])).toEqual([
      ["float32", [N, 4096]],
      ["bool", [N, 4096]],
    ]);
    expect(b.nodes.filter((n) => n.op === "Dropout")).toHaveLength(2);

    const inf = traceShapes(alexnet).b;
    expect(inf.nodes.filter((n) => n.op === "Dropout")).toHaveLength(0);
    expect(inf.nodes.filter((n) => n.op === "MaxPool").every((n) => n.outputs.length === 1)).toBe(true);
  });
});

// ---------------------------------------------------------------------------------------------
// DSL-level errors: small model definitions traced to a graph

const THIS_FILE = path.relative(process.cwd(), __filename);
const SOURCE = fs.readFileSync(__filename, "utf8").split("\n");

/** 1-based line of this file that carries the marker comment `@mark:<name>`. */
function markedLine(name: string): number {
  const tag = "@mark" + ":" + name; // split so that this line does not match itself
  const hits = SOURCE.flatMap((l, i) => (l.includes(tag) ? [i + 1] : []));
  if (hits.length !== 1) throw new Error(`marker ${tag} found ${hits.length} times`);
  return hits[0];
}

/** 1-based column of `.method(` on a source line (V8 points at the method name). */
function callColumn(line: string, method: string, nth = 0): number {
  let at = -1;
  for (let i = 0; i <= nth; i++) at = line.indexOf(`.${method}(`, at + 1);
  if (at < 0) throw new Error(`no .${method}( on line ${JSON.stringify(line)}`);
  return at + 2;
}

function traceError(def: ModelDef): ShapeError {
  return shapeError(() => buildInferenceGraph(def, 0));
}

// The inline models below break shape rules on purpose. They hide the offending sizes from the
// DSL's type-level shape checks (src/graph/shape-types.ts) — forward takes a plain `Tensor`,
// wrong sizes are `number` variables — so `tsc` stays quiet and the build-time rules in
// src/graph/ops are what these tests exercise.
describe("DSL errors", () => {
  test("conv2d with a wrong inChannels: file:line:col, Conv, the layer, both channel counts", () => {
    const eight: number = 8;
    const def = model({ name: "wrong-channels", input: [N, 1, 28, 28] }, (x: Tensor) =>
      x
        .conv2d(6, { kernel: 5, padding: 2 }).relu()
        .conv2d(16, { kernel: 5, inChannels: eight }) // @mark:wrong-in-channels
        .flatten()
        .linear(10),
    );
    const line = markedLine("wrong-in-channels");
    const col = callColumn(SOURCE[line - 1], "conv2d");
    const e = traceError(def);
    expect(e.message).toBe(`${THIS_FILE}:${line}:${col}: shape error in Conv 'conv2/Conv': input has 6 channels, weight expects 8`);
    expect(e.loc).toEqual({ file: __filename, line, column: col });
    expect(e.op).toBe("Conv");
    expect(e.nodeName).toBe("conv2/Conv");
  });

  test("an explicit layer name is the one reported", () => {
    const def = model({ name: "named", input: [N, 3, 32, 32] }, (x: Tensor) =>
      x.conv2d(16, { kernel: 3, inChannels: 1, name: "stem" }).flatten().linear(10), // @mark:named-layer
    );
    const line = markedLine("named-layer");
    const e = traceError(def);
    expect(e.message).toBe(`${THIS_FILE}:${line}:${callColumn(SOURCE[line - 1], "conv2d")}: shape error in Conv 'stem/Conv': input has 3 channels, weight expects 1`);
  });

  test("linear with a wrong inFeatures: Gemm, the layer, both feature counts and the weight shape", () => {
    const n256: number = 256;
    const def = model({ name: "wrong-features", input: [N, 1, 28, 28] }, (x: Tensor) =>
      x
        .conv2d(6, { kernel: 5, padding: 2 }).sigmoid().avgPool2d(2)
        .conv2d(16, { kernel: 5 }).sigmoid().avgPool2d(2)
        .flatten()
        .linear(120, { inFeatures: n256 }) // @mark:wrong-in-features
        .linear(10),
    );
    const line = markedLine("wrong-in-features");
    const e = traceError(def);
    expect(e.message).toBe(
      `${THIS_FILE}:${line}:${callColumn(SOURCE[line - 1], "linear")}: shape error in Gemm 'fc1/Gemm': input has 400 features, weight expects 256 (weight [120,256], transB)`,
    );
  });

  test("a forgotten flatten before linear", () => {
    const def = model({ name: "no-flatten", input: [N, 1, 28, 28] }, (x: Tensor) =>
      (x.conv2d(16, { kernel: 5 }).avgPool2d(2) as Tensor).linear(10), // @mark:no-flatten
    );
    const line = markedLine("no-flatten");
    const e = traceError(def);
    expect(e.message).toBe(
      `${THIS_FILE}:${line}:${callColumn(SOURCE[line - 1], "linear")}: shape error in Gemm 'fc1/Gemm': inputs must be matrices, got [N,16,12,12] and [10,16]`,
    );
  });

  test("AlexNet fed [N,1,32,32]: the error points into models/alexnet.ts at pool3", () => {
    const small = model({ ...alexnet.spec, input: [N, 1, 32, 32] }, alexnet.forward);
    const modelFile = path.join(__dirname, "..", "models", "alexnet.ts");
    const src = fs.readFileSync(modelFile, "utf8").split("\n");
    // 32 → conv1 7 → pool1 3 → conv2 3 → pool2 1 → conv3..5 1 → pool3: a 3×3 window on 1×1
    const poolLines = src.flatMap((l, i) => (l.includes(".maxPool2d(") ? [i] : []));
    expect(poolLines).toHaveLength(3);
    const line = poolLines[2] + 1;
    const col = callColumn(src[line - 1], "maxPool2d");
    const e = traceError(small);
    expect(e.message).toBe(`${path.join("models", "alexnet.ts")}:${line}:${col}: shape error in MaxPool 'pool3/MaxPool': kernel 3 is larger than the padded input height 1+2*0=1`);
    expect(e.loc?.file).toBe(modelFile);
  });

  test("AlexNet fed smaller inputs fails earlier, at the first layer that does not fit", () => {
    const at = (input: number[]) => shapeError(() => traceShapes(model({ ...alexnet.spec, input: [N, ...input] }, alexnet.forward))).message.replace(/^[^ ]*: /, "");
    expect(at([1, 8, 8])).toBe("shape error in MaxPool 'pool1/MaxPool': kernel 3 is larger than the padded input height 1+2*0=1");
    expect(at([1, 224, 8])).toBe("shape error in MaxPool 'pool1/MaxPool': kernel 3 is larger than the padded input width 1+2*0=1");
    expect(at([1, 4, 4])).toBe("shape error in Conv 'conv1/Conv': kernel 11 is larger than the padded input height 4+2*2=8");
  });

  test("AlexNet at 224×224 traces to [N,10]; other channel counts are inferred from the input", () => {
    const { b, output } = traceShapes(alexnet);
    expect(output.shape).toEqual([N, 10]);
    const shapes = Object.fromEntries(b.nodes.map((n) => [n.name, n.outputs[0].shape]));
    expect(shapes).toMatchObject({
      "conv1/Conv": [N, 96, 55, 55],
      "pool1/MaxPool": [N, 96, 27, 27],
      "conv2/Conv": [N, 256, 27, 27],
      "pool2/MaxPool": [N, 256, 13, 13],
      "conv3/Conv": [N, 384, 13, 13],
      "conv4/Conv": [N, 384, 13, 13],
      "conv5/Conv": [N, 256, 13, 13],
      "pool3/MaxPool": [N, 256, 6, 6],
      "flatten1/Flatten": [N, 9216],
      "fc1/Gemm": [N, 4096],
      "fc2/Gemm": [N, 4096],
      "fc3/Gemm": [N, 10],
    });
    const rgb = traceShapes(model({ ...alexnet.spec, input: [N, 3, 224, 224] }, alexnet.forward)).b;
    expect(rgb.value("conv1.weight")!.shape).toEqual([96, 3, 11, 11]);
  });

  test("a model that does not end in [N, classes] points at its model(...) call", () => {
    const def = model({ name: "no-head", input: [N, 1, 28, 28] }, (x: Tensor) => x.conv2d(6, { kernel: 5 })); // @mark:no-head
    const line = markedLine("no-head");
    const e = traceError(def);
    expect(e.message).toMatch(new RegExp(`^${escape(THIS_FILE)}:${line}:\\d+: shape error in output 'no-head': a classifier must end in \\[N, classes\\], got \\[N,6,24,24\\]$`));
  });

  test("a head that disagrees with the declared classes", () => {
    const def = model({ name: "seven", input: [N, 1, 28, 28], classes: ["a", "b", "c"] }, (x: Tensor) => x.flatten().linear(7)); // @mark:classes
    const line = markedLine("classes");
    expect(traceError(def).message).toMatch(
      new RegExp(`^${escape(THIS_FILE)}:${line}:\\d+: shape error in output 'seven': the model declares 3 classes but returns 7 logits$`),
    );
  });

  test("ModelErrors from the DSL: unknown channel count, bad dropout, forward returning nothing", () => {
    const one: number = 1;
    const sym = model({ name: "sym", input: [N, "C", 28, 28] }, (x: Tensor) => x.conv2d(6, { kernel: 5 }).flatten().linear(10));
    expect(() => buildInferenceGraph(sym, 0)).toThrow(new ModelError("conv1: input channels must be known (got C)"));
    const drop = model({ name: "drop", input: [N, 4] }, (x: Tensor) => x.linear(4).dropout(one).linear(2));
    expect(() => buildInferenceGraph(drop, 0)).toThrow(new ModelError("dropout1: dropout probability must be in [0, 1), got 1"));
    const none = model({ name: "none", input: [N, 4] }, (() => undefined) as never);
    expect(() => buildInferenceGraph(none, 0)).toThrow(new ModelError("model 'none': forward must return a Tensor, got undefined"));
  });
});

function escape(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

// ---------------------------------------------------------------------------------------------
// Bugs found by this file's first version (each was a `test.failing` until fixed in src/).

describe("fixed shape-rule bugs (regression tests)", () => {
  test("MaxPool ceil_mode: a last window that would start in the right padding is dropped (PyTorch, onnxruntime)", () => {
    // H=3, k=2, s=2, pad 1: ceil((3+2−2)/2)+1 = 3, but window 3 would start at padded row 4 =
    // past the input; PyTorch and onnxruntime-node both give 2 (ORT warns the declared shape is wrong).
    const { b, xs } = setup([1, 1, 3, 3]);
    expect(op1(b, "MaxPool", xs, { ...window([2, 2], [2, 2], [1, 1, 1, 1]), ceil_mode: 1 }).shape).toEqual([1, 1, 2, 2]);
    // AveragePool shares the rule; without padding every ceil window starts inside the input
    expect(op1(b, "AveragePool", xs, { ...window([2, 2], [2, 2], [1, 1, 1, 1]), ceil_mode: 1 }).shape).toEqual([1, 1, 2, 2]);
    expect(op1(b, "MaxPool", xs, { ...window([2, 2], [2, 2]), ceil_mode: 1 }).shape).toEqual([1, 1, 2, 2]);
  });

  test("Reshape [0, -1] of [N,256,6,6] gives 9216 (0 copies the symbolic batch)", () => {
    const { b, xs } = setup([N, 256, 6, 6], [N, 10]);
    expect(op1(b, "Reshape", [xs[0], b.ints([0, -1])]).shape).toEqual([N, 9216]);
    expect(op1(b, "Reshape", [xs[0], b.ints([0, 256, -1])]).shape).toEqual([N, 256, 36]);
    expectRule(() => op(b, "Reshape", [xs[1], b.ints([0, 3, -1])], {}, { name: "r" }), "Reshape", "r", "cannot reshape [N,10] (N*10 elements) to [0,3,-1]");
  });

  test("Reshape to a static target with a different element count is an error", () => {
    const { b, xs } = setup([2, 3, 4], [N, 256, 6, 6]);
    expectRule(() => op(b, "Reshape", [xs[0], b.ints([5, 5])], {}, { name: "r" }), "Reshape", "r", "cannot reshape [2,3,4] (24 elements) to [5,5]");
    expectRule(() => op(b, "Reshape", [xs[1], b.ints([0, 9000])], {}, { name: "r2" }), "Reshape", "r2", "cannot reshape [N,256,6,6] (N*9216 elements) to [0,9000]");
    expect(op1(b, "Reshape", [xs[0], b.ints([4, 6])]).shape).toEqual([4, 6]);
    expect(op1(b, "Reshape", [xs[1], b.ints([0, 9216])]).shape).toEqual([N, 9216]);
  });

  test("Transpose rejects a perm that is not a permutation", () => {
    const { b, xs } = setup([N, 256, 6, 6]);
    expect(() => op(b, "Transpose", xs, { perm: [0, 1, 2, 7] })).toThrow(ShapeError);
    expectRule(() => op(b, "Transpose", xs, { perm: [0, 1, 1, 2] }, { name: "tr" }), "Transpose", "tr", "perm [0,1,1,2] is not a permutation of 0..3");
  });

  test("ArgMax and Concat check their axis", () => {
    const { b, xs } = setup([N, 10]);
    expect(() => op(b, "ArgMax", xs, { axis: 5 })).toThrow(ShapeError);
    expectRule(() => op(b, "ArgMax", xs, { axis: -3 }, { name: "am" }), "ArgMax", "am", "axis -3 is out of range for rank 2");
    expectRule(() => op(b, "Concat", [xs[0], xs[0]], { axis: 2 }, { name: "cat" }), "Concat", "cat", "axis 2 is out of range for rank 2");
    expect(op1(b, "Concat", [xs[0], xs[0]], { axis: -2 }, { name: "cat2" }).shape).toEqual(["cat2_0", 10]);
  });

  test("OneHot honours its axis attribute (axis 0 puts the depth first)", () => {
    const { b } = setup();
    const labels = input(b, "labels", [N], "int64");
    const values = b.constant("float32", [2], [0, 1]);
    expect(op1(b, "OneHot", [labels, b.ints([10]), values], { axis: 0 }).shape).toEqual([10, N]);
    expect(op1(b, "OneHot", [labels, b.ints([10]), values], { axis: -2 }).shape).toEqual([10, N]);
    expectRule(() => op(b, "OneHot", [labels, b.ints([10]), values], { axis: 2 }, { name: "oh" }), "OneHot", "oh", "axis 2 is out of range for rank 2");
  });

  test("Where with only two inputs (and Add with three) is rejected", () => {
    const { b, xs } = setup([2, 3]);
    const cond = input(b, "cond", [2, 3], "bool");
    expect(() => op(b, "Where", [cond, xs[0]])).toThrow(ShapeError);
    expectRule(() => op(b, "Where", [cond, xs[0]], {}, { name: "w" }), "Where", "w", "needs 3 inputs");
    expectRule(() => op(b, "Add", [xs[0], xs[0], xs[0]], {}, { name: "a" }), "Add", "a", "needs 2 inputs");
  });

  test("AveragePool with a missing input is a ShapeError", () => {
    const { b } = setup();
    expectRule(() => op(b, "AveragePool", [undefined], window([2, 2]), { name: "p" }), "AveragePool", "p", "needs an input");
  });
});

// ---------------------------------------------------------------------------------------------

describe("And / Or / Range (the WebGPU lowering's MaxPool indices)", () => {
  test("And and Or broadcast bool tensors", () => {
    const b = new GraphBuilder("g");
    const p = input(b, "p", [N, 4, 3, 3], "bool");
    const q = input(b, "q", [1, 4, 1, 1], "bool");
    expect(op1(b, "And", [p, q]).shape).toEqual([N, 4, 3, 3]);
    expect(op1(b, "Or", [p, q]).dtype).toBe("bool");
    const r = input(b, "r", [N, 5, 3, 3], "bool");
    expectRule(() => op(b, "Or", [p, r], {}, { name: "or" }), "Or", "or", "shapes [N,4,3,3] and [N,5,3,3] do not broadcast (axis 1: 4 vs 5)");
  });

  test("Range gives a 1-D tensor of unknown length", () => {
    const b = new GraphBuilder("g");
    const out = op1(b, "Range", [b.constant("int64", [], [0]), b.constant("int64", [], [5]), b.constant("int64", [], [1])], {}, { name: "range" });
    expect(out.shape.length).toBe(1);
    expect(typeof out.shape[0]).toBe("string");
    expect(out.dtype).toBe("int64");
  });
});

// ---------------------------------------------------------------------------------------------
// BatchNormalization, GlobalAveragePool and the DSL layers built on them (issue 20)

describe("BatchNormalization / GlobalAveragePool", () => {
  test("BatchNormalization keeps the input's shape; scale, bias, mean and var are [C]", () => {
    const { b, xs } = setup([N, 64, 24, 24], [64], [N, 10], [10], [32]);
    const [x, c64, x2, c10, c32] = xs;
    expect(op1(b, "BatchNormalization", [x, c64, c64, c64, c64], { epsilon: 1e-5 }).shape).toEqual([N, 64, 24, 24]);
    expect(op1(b, "BatchNormalization", [x2, c10, c10, c10, c10]).shape).toEqual([N, 10]);
    expectRule(
      () => op(b, "BatchNormalization", [x, c64, c64, c32, c64], {}, { name: "bn" }),
      "BatchNormalization",
      "bn",
      "mean must be [C] with C = 64 channels of input [N,64,24,24], got [32]",
    );
    expectRule(() => op(b, "BatchNormalization", [x, c64, undefined, c64, c64], {}, { name: "bn2" }), "BatchNormalization", "bn2", "needs bias");
    expectRule(
      () => op(b, "BatchNormalization", [x, c64, c64, c64, c64], { training_mode: 1 }, { name: "bn3" }),
      "BatchNormalization",
      "bn3",
      "alexc emits the inference form only (training_mode 0, one output)",
    );
  });

  test("GlobalAveragePool: [N, C, H, W] → [N, C, 1, 1]", () => {
    const { b, xs } = setup([N, 512, 3, 3], [N, 10]);
    expect(op1(b, "GlobalAveragePool", [xs[0]]).shape).toEqual([N, 512, 1, 1]);
    expectRule(() => op(b, "GlobalAveragePool", [xs[1]], {}, { name: "gap" }), "GlobalAveragePool", "gap", "input must be [N, C, spatial...], got rank 2");
  });

  const dslError = (forward: (x: Tensor) => Tensor) =>
    shapeError(() => traceShapes(model({ name: "m", input: [N, 1, 28, 28] }, forward as (x: Tensor) => Tensor)));

  test("batchNorm2d, adaptiveAvgPool2d and residual name the layer, the rule and the values at the model line", () => {
    const rank = dslError((x) => (x.flatten() as Tensor).batchNorm2d());
    expect([rank.op, rank.nodeName, rank.rule]).toEqual(["batchNorm2d", "bn1", "input must have rank 4 ([N, C, H, W]), got [N,784]"]);
    expect(rank.message).toMatch(/^test\/shape-rules\.test\.ts:\d+:\d+: /);
    const features = dslError((x) => x.conv2d(8, { kernel: 3 }).batchNorm2d({ numFeatures: 6 } as object));
    expect(features.rule).toBe("input has 8 channels, numFeatures says 6");
    const adaptive = dslError((x) => (x as Tensor).adaptiveAvgPool2d(3 as never));
    expect([adaptive.op, adaptive.rule]).toEqual(["adaptiveAvgPool2d", "output height 3 does not divide the input height 28"]);
    const res = dslError((x) => (x.conv2d(4, { kernel: 1 }) as Tensor).residual((y) => y.conv2d(4, { kernel: 3, stride: 2, padding: 1 }) as never, { name: "blk" }));
    expect([res.op, res.nodeName, res.rule]).toEqual(["residual", "blk", "the block gives [N,4,14,14] but the shortcut gives [N,4,28,28]"]);
    expect(res.message).toMatch(/^test\/shape-rules\.test\.ts:\d+:\d+: /);
  });

  test("the layers' shapes in inference and training traces; layers inside a residual are named in its block", () => {
    const def = model({ name: "m", input: [N, 1, 28, 28] }, (x) =>
      x.conv2d(8, { kernel: 3, padding: 1 }).batchNorm2d().relu()
        .residual((y) => y.conv2d(8, { kernel: 3, padding: 1 }).batchNorm2d(), { name: "b1" })
        .adaptiveAvgPool2d(7).globalAvgPool2d().flatten().linear(4).batchNorm1d());
    for (const training of [false, true]) {
      const { b, output } = traceShapes(def, training);
      expect(output.shape).toEqual([N, 4]);
      const inputs = b.inputs.map((v) => v.name);
      expect(inputs).toEqual(expect.arrayContaining(["bn1.running_mean", "b1.conv1.weight", "b1.bn1.running_var", "bn2.weight"]));
    }
    const ops = traceShapes(def).b.nodes.map((n) => n.op);
    expect(ops.filter((o) => o === "BatchNormalization").length).toBe(3);
    expect(ops).toEqual(expect.arrayContaining(["AveragePool", "GlobalAveragePool"]));
  });
});

test("every op in the registry has a shape-rule test above", () => {
  const missing = registeredOps().filter((t) => !covered.has(t));
  expect(missing).toEqual([]);
});
