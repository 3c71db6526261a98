/**
 * The multi-input layers (add, matmul, concat) in a whole model, test/fixtures/residual.ts:
 * the inference graph has the layers' nodes with their shapes, and the training step's
 * gradient (read off one plain SGD step, g = p − p.next at lr 1) matches the finite
 * difference of the step's own loss along random directions in parameter space.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import residual from "./fixtures/residual";
import { uniformInit } from "../src/graph/init";
import { buildInferenceGraph } from "../src/graph/trace";
import { numel } from "../src/graph/types";
import { sgd } from "../src/train/optim/sgd";
import { modelBytes } from "../src/train/session";
import { buildStepGraph, next } from "../src/train/step";
import { normals, prng } from "./helpers/train-fd";

test("inference graph: add, matmul and concat layers with their shapes", () => {
  const { b, output } = buildInferenceGraph(residual, 0);
  const shapeOf = (node: string) => b.nodes.find((n) => n.name === node)?.outputs[0].shape;
  expect(shapeOf("add1/Add")).toEqual(["N", 8, 28, 28]);
  expect(shapeOf("matmul1/MatMul")).toEqual(["N", 8, 14, 14]);
  expect(shapeOf("div1/Div")).toEqual(["N", 8, 14, 14]);
  expect(shapeOf("concat1/Concat")).toEqual(["N", 20, 14, 14]);
  expect(shapeOf("mul1/Mul")).toEqual(["N", 20, 14, 14]);
  expect(output.shape).toEqual(["N", 10]);
});

test("training step: gradients through add, matmul and concat match finite differences", async () => {
  const sg = buildStepGraph(residual, { optimizer: sgd(), mode: "inputs", dropoutSeed: 0 });
  const gradOps = new Set(sg.b.nodes.filter((n) => n.name.startsWith("grad/")).map((n) => n.op));
  for (const op of ["Slice", "MatMul", "Transpose"]) expect(gradOps.has(op)).toBe(true);
  const session = await ort.InferenceSession.create(modelBytes(sg.b));

  const B = 4;
  const rand = prng(7);
  const fixed: Record<string, ort.Tensor> = {
    images: new ort.Tensor("uint8", Uint8Array.from({ length: B * 784 }, (_, i) => (i * 131 + (i >> 7) * 17) % 256), [B, 1, 28, 28]),
    labels: new ort.Tensor("int64", BigInt64Array.from({ length: B }, (_, i) => BigInt((i * 3) % 10)), [B]),
    lr: new ort.Tensor("float32", Float32Array.of(1), []),
    step: new ort.Tensor("int64", BigInt64Array.of(0n), []),
  };
  const theta = sg.params.map((p) => uniformInit(0, p.name, numel(p.dims), p.fanIn));
  const run = async (values: Float32Array[]) =>
    session.run({ ...fixed, ...Object.fromEntries(sg.params.map((p, k) => [p.name, new ort.Tensor("float32", values[k], [...p.dims])])) });

  const out = await run(theta);
  const grads = sg.params.map((p, k) => {
    const after = out[next(p.name)].data as Float32Array;
    return Array.from(theta[k], (v, e) => v - after[e]);
  });
  // Every parameter gets a gradient, through each branch of the concat.
  for (const [k, p] of sg.params.entries()) expect([p.name, grads[k].some((g) => g !== 0)]).toEqual([p.name, true]);

  // Unit directions: each conv weight's own gradient (the stem feeds all three concat branches,
  // conv2/conv3 the residual body, conv4 the 1×1 branch), and one random over all parameters.
  const unit = (xs: number[][]) => {
    const norm = Math.sqrt(xs.flat().reduce((a, v) => a + v * v, 0));
    return xs.map((x) => x.map((v) => v / norm));
  };
  const along = (name: string) => unit(sg.params.map((p, k) => (p.name === name ? grads[k] : new Array<number>(grads[k].length).fill(0))));
  const directions = [...["conv1.weight", "conv2.weight", "conv3.weight", "conv4.weight"].map(along), unit(sg.params.map((p) => normals(rand, numel(p.dims))))];
  // Small: ReLU and max-pool switches make the central difference's error grow with ε (float32 noise is ~1e-4 here).
  const eps = 1e-3;
  for (const d of directions) {
    const shifted = (s: number) => theta.map((xs, k) => Float32Array.from(xs, (v, e) => v + s * eps * d[k][e]));
    const loss = async (s: number) => Number((await run(shifted(s))).loss.data[0]);
    const fd = ((await loss(1)) - (await loss(-1))) / (2 * eps);
    const gd = grads.reduce((acc, g, k) => acc + g.reduce((a, v, e) => a + v * d[k][e], 0), 0);
    expect(Math.abs(gd - fd)).toBeLessThan(2e-2 * Math.max(Math.abs(fd), Math.abs(gd)) + 1e-4);
  }
  await session.release();
});
