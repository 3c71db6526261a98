/**
 * K optimizer steps inside one ONNX Loop (the device-resident design for CUDA) give the same
 * parameters, state and losses as K separate runs of the step model.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import lenet from "../models/lenet";
import { uniformInit } from "../src/graph/init";
import { numel } from "../src/graph/types";
import { sessionBytes } from "../src/emit/session-bytes";
import { multiStep } from "../src/passes/multi-step";
import { adam } from "../src/train/optim/adam";
import { buildStepGraph, next, STEP_COUNTER } from "../src/train/step";

test("LeNet: 3 steps in one Loop run == 3 single-step runs", async () => {
  const K = 3;
  const B = 8;
  const sg = buildStepGraph(lenet, { optimizer: adam(), mode: "inputs", dropoutSeed: 1 });
  const step = sg.b.build();
  const single = await ort.InferenceSession.create(sessionBytes(step));
  const multi = await ort.InferenceSession.create(sessionBytes(multiStep({ counter: STEP_COUNTER, next })(step)));
  const images = Uint8Array.from({ length: K * B * 784 }, (_, i) => (i * 37 + (i >> 9)) % 256);
  const labels = BigInt64Array.from({ length: K * B }, (_, i) => BigInt((i * 7) % 10));
  const lr = new ort.Tensor("float32", Float32Array.of(1e-2), []);
  const start: Record<string, ort.Tensor> = { step: new ort.Tensor("int64", BigInt64Array.of(0n), []) };
  for (const p of sg.params) start[p.name] = new ort.Tensor("float32", uniformInit(0, p.name, numel(p.dims), p.fanIn), [...p.dims]);
  for (const s of sg.state) start[s.name] = new ort.Tensor("float32", new Float32Array(numel(s.dims)), [...s.dims]);

  let cur = { ...start };
  const losses: number[] = [];
  for (let k = 0; k < K; k++) {
    const out = await single.run({
      ...cur,
      lr,
      images: new ort.Tensor("uint8", images.slice(k * B * 784, (k + 1) * B * 784), [B, 1, 28, 28]),
      labels: new ort.Tensor("int64", labels.slice(k * B, (k + 1) * B), [B]),
    });
    cur = Object.fromEntries(Object.keys(cur).map((name) => [name, out[next(name)]]));
    losses.push(Number(out.loss.data[0]));
  }
  const looped = await multi.run({
    ...start,
    lr,
    images_all: new ort.Tensor("uint8", images, [K, B, 1, 28, 28]),
    labels_all: new ort.Tensor("int64", labels, [K, B]),
  });

  expect(Array.from(looped.losses.data as Float32Array)).toEqual(losses.map((l) => Math.fround(l)));
  expect(Number(looped[next("step")].data[0])).toBe(K);
  for (const name of Object.keys(cur)) {
    expect(Buffer.from((looped[next(name)].data as Float32Array).buffer).equals(Buffer.from((cur[name].data as Float32Array).buffer))).toBe(true);
  }
  // The losses changed from step to step: the test compares real updates.
  expect(new Set(losses).size).toBe(K);
});
