/**
 * ONNX → IR (src/emit/import.ts): a built model's inference graph, a step and the training_info
 * algorithm read back into the IR and encoded again give onnxruntime the same outputs, bit for
 * bit; nodes keep their domain and a Loop's body comes back as a graph; a value of an unknown op
 * without a declared type is an error that names it.
 */
import "./helpers/train-realm";
import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-node";
import type { ModelDef } from "../src/graph/dsl";
import type { Graph } from "../src/graph/ir";
import { GraphBuilder } from "../src/graph/ir";
import { compileModel } from "../src/emit/compile";
import { decodeModel } from "../src/emit/decode";
import { encodeModel, graphProto } from "../src/emit/encode";
import { importGraph, importModel } from "../src/emit/import";
import { sessionBytes } from "../src/emit/session-bytes";
import { multiStep } from "../src/passes/multi-step";
import { nchwc, NCHWC_DOMAIN } from "../src/passes/nchwc";
import { nchwcBlockSize } from "../src/train/nchwc-probe";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import { programFromOnnx } from "../src/train/program-onnx";
import { next, STEP_COUNTER } from "../src/train/step";
import { trainingInfo } from "../src/train/training-info";
import { batchFeeds, maskFeeds, stateFeeds } from "../scripts/bench/step-feeds";
import lenet from "../models/lenet";
import smallCnn from "./fixtures/small-cnn";

/** The graph encoded, decoded and imported again. */
const roundTrip = (g: Graph): Graph => importModel(decodeModel(sessionBytes(g), "test")).graph;

async function run(bytes: Uint8Array, feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>> {
  const session = await ort.InferenceSession.create(bytes);
  const wanted = Object.fromEntries(session.inputNames.map((n) => [n, feeds[n]]));
  const out = (await session.run(wanted)) as Record<string, ort.Tensor>;
  await session.release();
  return out;
}

function expectSameOutputs(a: Record<string, ort.Tensor>, b: Record<string, ort.Tensor>): void {
  expect(Object.keys(b).sort()).toEqual(Object.keys(a).sort());
  for (const name of Object.keys(a)) {
    const [x, y] = [a[name].data as ArrayLike<number | bigint>, b[name].data as ArrayLike<number | bigint>];
    expect({ name, dims: b[name].dims }).toEqual({ name, dims: a[name].dims });
    expect({ name, same: Buffer.from(new Uint8Array((y as Float32Array).buffer, (y as Float32Array).byteOffset, (y as Float32Array).byteLength)).equals(Buffer.from(new Uint8Array((x as Float32Array).buffer, (x as Float32Array).byteOffset, (x as Float32Array).byteLength))) }).toEqual({ name, same: true });
  }
}

describe.each([
  ["LeNet", lenet as ModelDef],
  ["small CNN (dropout)", smallCnn],
])("%s", (_, def) => {
  const program = programFromModel(def, adam(), 0);
  const feeds = () => {
    const lowered = program.loweredStepGraph("dropout");
    return { lowered, feeds: { ...batchFeeds(program, 4, 1, 1e-2), ...maskFeeds(lowered.masks, 4, 2), ...stateFeeds(program) } };
  };

  test("the step and the evaluation graph round-trip: same nodes, same outputs bit for bit", async () => {
    const { lowered, feeds: f } = feeds();
    for (const g of [lowered.graph, program.evalGraph()]) {
      const back = roundTrip(g);
      expect(back.nodes.map((n) => [n.name, n.op, n.outputs.map((o) => o.name)])).toEqual(g.nodes.map((n) => [n.name, n.op, n.outputs.map((o) => o.name)]));
      expect(back.inputs).toEqual(g.inputs);
      expectSameOutputs(await run(sessionBytes(g), f), await run(sessionBytes(back), f));
    }
  });

  test("a built .onnx: its inference graph round-trips, and its step equals the model file's", async () => {
    const built = encodeModel(compileModel(def, { seed: 0, trainingInfo: (d, s) => trainingInfo(d, adam(), s) }));
    const m = decodeModel(built, "built.onnx");
    const imported = importModel(m, "built.onnx");
    expect(imported.trainingInfo).toHaveLength(1);
    expect(imported.trainingInfo[0].updateBinding.get(STEP_COUNTER)).toBe(next(STEP_COUNTER));
    const [, c, h, w] = def.spec.input as number[];
    const x = new ort.Tensor("float32", Float32Array.from({ length: 2 * c * h * w }, (_, i) => ((i * 7919) % 1000) / 1000), [2, c, h, w]);
    const inferenceFeeds = { [imported.graph.inputs[0].name]: x };
    expectSameOutputs(await run(built, inferenceFeeds), await run(sessionBytes(imported.graph), inferenceFeeds));

    // The training_info algorithm, made a standalone step, trains as the model file's step does.
    const fromOnnx = programFromOnnx(m, "built.onnx");
    const { lowered, feeds: f } = feeds();
    const onnxStep = fromOnnx.loweredStepGraph("dropout");
    expect(onnxStep.masks).toEqual(lowered.masks);
    expectSameOutputs(await run(sessionBytes(lowered.graph), f), await run(sessionBytes(onnxStep.graph), f));
    expectSameOutputs(await run(sessionBytes(program.evalGraph()), f), await run(sessionBytes(fromOnnx.evalGraph()), f));
  });
});

test("nodes keep their domain, and a Loop's body (with NCHWc nodes) comes back as a graph that runs the same", async () => {
  const program = programFromModel(lenet as ModelDef, adam(), 0);
  const step = nchwc(await nchwcBlockSize())(program.stepGraph(0));
  const looped = multiStep({ counter: STEP_COUNTER, next })(step);
  const back = roundTrip(looped);
  const loop = back.nodes.find((n) => n.op === "Loop")!;
  const body = loop.attrs.body as Graph;
  expect(body.nodes.filter((n) => n.domain === NCHWC_DOMAIN).map((n) => n.op)).toEqual(expect.arrayContaining(["Conv", "ReorderOutput"]));
  expect(body.nodes.filter((n) => n.domain === NCHWC_DOMAIN).length).toBe(step.nodes.filter((n) => n.domain === NCHWC_DOMAIN).length);
  const { images, labels, ...rest } = { ...batchFeeds(program, 4, 3, 1e-2), ...stateFeeds(program) };
  const feeds = {
    ...rest,
    images_all: new ort.Tensor("uint8", images.data as Uint8Array, [1, ...images.dims]),
    labels_all: new ort.Tensor("int64", labels.data as BigInt64Array, [1, ...labels.dims]),
  };
  expectSameOutputs(await run(sessionBytes(looped), feeds), await run(sessionBytes(back), feeds));
});

test("an output of an op outside the registry without a declared type is an error that names it", () => {
  const b = new GraphBuilder("g");
  const x = b.input("x", "float32", [1, 8, 4, 4]);
  const [y] = b.external("ReorderInput", [x], { domain: NCHWC_DOMAIN, outputs: [{ dtype: "float32", shape: [1, 8, 4, 4] }] }, { name: "reorder", outputNames: ["y"] });
  b.output(b.op1("Identity", [b.op1("Relu", [y], {}, { name: "relu", outputNames: ["r"] })], {}, { name: "id", outputNames: ["z"] }));
  const proto = graphProto(b.build());
  expect(importGraph(proto).nodes.map((n) => n.domain)).toEqual([NCHWC_DOMAIN, undefined, undefined]);
  const undescribed = { ...proto, valueInfo: [] };
  expect(() => importGraph(undescribed, new Map(), "g.onnx")).toThrow("g.onnx: node 'reorder' (ReorderInput): output 'y' has no declared type, and 'ReorderInput' is not an op alexc knows");
  // A registered op's output is typed by its shape rule instead.
  const relu = importGraph({ ...proto, valueInfo: proto.valueInfo!.filter((v) => v.name !== "r") });
  expect(relu.nodes[1].outputs[0]).toEqual({ name: "r", dtype: "float32", shape: [1, 8, 4, 4] });
});

test("no pass reads or writes ONNX bytes: nothing in src/passes imports src/emit", () => {
  const dir = path.join(__dirname, "../src/passes");
  const offenders = fs
    .readdirSync(dir)
    .filter((f) => f.endsWith(".ts"))
    .filter((f) => /from\s+"(\.\.\/emit\/|onnx-proto|protobufjs)/.test(fs.readFileSync(path.join(dir, f), "utf8")));
  expect(offenders).toEqual([]);
});
