/**
 * Where the step's updates run, and the garbage they leave: a fully connected weight whose
 * gradient dwarfs its inputs is updated last (src/train/step.ts, updateOrder) — in the emitted
 * graph and in the order onnxruntime actually runs it — and the arrays a step replaces are
 * collected on demand, when they are large (src/train/collect-garbage.ts).
 */
import "./helpers/train-realm";
import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { model, N, Tensor } from "../src";
import * as garbage from "../src/train/collect-garbage";
import { collectGarbage, COLLECT_ABOVE_BYTES, collectReplaced } from "../src/train/collect-garbage";
import { nativeBinding } from "../src/train/native-session";
import { cpuTarget } from "../src/train/targets/cpu";
import { train, type TrainConfig } from "../src/train/trainer";
import lenet from "../models/lenet";
import type { ModelDef } from "../src/graph/dsl";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import { buildStepGraph } from "../src/train/step";
import { sessionBytes } from "../src/emit/session-bytes";
import { batchFeeds, maskFeeds, stateFeeds } from "../scripts/bench/step-feeds";
import { makeTmpDir } from "./helpers/tmp";
import { syntheticSplit } from "./helpers/train-idx";

// fc1's weight: 1352 × 512 = 692 k floats from 1352 + 512 per example (ratio 371, above 256);
// fc2's: 5120 from 522 per example (ratio 10); the convolution's: 72 from 784 + 1352·4.
const wide = model(
  { name: "wide", input: [N, 1, 28, 28], preprocess: { raw: [1, 28, 28] } },
  (x: Tensor) =>
    x
      .conv2d(8, { kernel: 3 }).relu().maxPool2d(2) // [N,8,13,13]
      .flatten() //                                    [N,1352]
      .linear(512).relu()
      .linear(10),
);

const tmp = makeTmpDir("alexc-schedule");
afterAll(() => tmp.remove());

/** The parameters in the order their optimizer nodes were emitted. */
function emitted(sg: ReturnType<typeof buildStepGraph>): string[] {
  const names = new Set(sg.params.map((p) => p.name));
  const order: string[] = [];
  for (const n of sg.b.nodes) {
    const [scope, param] = n.name.split("/");
    if (scope === "optimizer" && names.has(param) && !order.includes(param)) order.push(param);
  }
  return order;
}

test("only a weight whose gradient is far larger than its inputs is emitted first", () => {
  const sg = buildStepGraph(wide, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 });
  const names = sg.params.map((p) => p.name);
  expect(names).toEqual(["conv1.weight", "conv1.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias"]);
  expect(emitted(sg)).toEqual(["fc1.weight", "conv1.weight", "conv1.bias", "fc1.bias", "fc2.weight", "fc2.bias"]);
  // Graph outputs keep parameter order.
  expect([...sg.updates.keys()].filter((n) => names.includes(n))).toEqual(names);
  // LeNet's largest weight (400 × 120 from 520 per example) is below the ratio: parameter order.
  const lenet = buildStepGraph(require("../models/lenet").default, { optimizer: adam(), mode: "inputs", dropoutSeed: 0 });
  expect(emitted(lenet)).toEqual(lenet.params.map((p) => p.name));
});

test("onnxruntime runs the emitted-first update last, after the convolution's gradient and update", async () => {
  const program = programFromModel(wide, adam(), 0);
  const { graph, masks } = program.loweredStepGraph("dropout");
  const bytes = sessionBytes(graph);
  const dir = tmp.sub("profile");
  const session = await ort.InferenceSession.create(bytes, { enableProfiling: true, profileFilePrefix: path.join(dir, "step"), intraOpNumThreads: 1 });
  await session.run({ ...batchFeeds(program, 4), ...maskFeeds(masks, 4, 0), ...stateFeeds(program) });
  await session.release();
  const file = fs.readdirSync(dir).find((f) => f.endsWith(".json"))!;
  const events = (JSON.parse(fs.readFileSync(path.join(dir, file), "utf8")) as { cat: string; name: string; ts: number }[])
    .filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time"))
    .sort((a, b) => a.ts - b.ts)
    .map((e) => e.name.replace(/_kernel_time$/, ""))
    // Adam's bias corrections are shared scalars, emitted in the scope of the first update.
    .filter((n) => !n.includes("/adam/"));
  const last = (prefix: string) => events.reduce((at, n, i) => (n.startsWith(prefix) ? i : at), -1);
  const first = (prefix: string) => events.findIndex((n) => n.startsWith(prefix));
  expect(first("optimizer/fc1.weight/")).toBeGreaterThan(0);
  expect(first("optimizer/fc1.weight/")).toBeGreaterThan(last("optimizer/conv1.weight/"));
  expect(first("optimizer/fc1.weight/")).toBeGreaterThan(last("grad/train/conv1/"));
  // The others in the backward's order: the last layer's update before the first layer's.
  expect(last("optimizer/fc2.weight/")).toBeLessThan(first("optimizer/conv1.weight/"));
}, 60_000);

test("collectGarbage frees what nothing references", async () => {
  let ref: WeakRef<ArrayBuffer> | undefined;
  (() => {
    ref = new WeakRef(new ArrayBuffer(64 << 20));
  })();
  // A WeakRef's target survives the job that created or read it.
  await new Promise((resolve) => setImmediate(resolve));
  collectGarbage();
  await new Promise((resolve) => setImmediate(resolve));
  expect(ref!.deref()).toBeUndefined();
});

test("collectReplaced collects only after a step that left COLLECT_ABOVE_BYTES of arrays behind", async () => {
  expect(collectReplaced(0)).toBe(false);
  expect(collectReplaced(COLLECT_ABOVE_BYTES - 1)).toBe(false);
  let ref: WeakRef<ArrayBuffer> | undefined;
  (() => {
    ref = new WeakRef(new ArrayBuffer(64 << 20));
  })();
  await new Promise((resolve) => setImmediate(resolve));
  expect(collectReplaced(COLLECT_ABOVE_BYTES)).toBe(true);
  await new Promise((resolve) => setImmediate(resolve));
  expect(ref!.deref()).toBeUndefined();
});

describe("the trainer counts the arrays each step replaced", () => {
  const tmp = makeTmpDir("alexc-garbage-");
  afterAll(() => tmp.remove());
  // A full collection costs about as much as a whole LeNet step (≈ 18 ms): in-place steps must not pay it.
  const run = async (native: boolean): Promise<number[]> => {
    const spy = jest.spyOn(garbage, "collectReplaced");
    try {
      const program = programFromModel(lenet as ModelDef, adam(), 0);
      const cfg: TrainConfig = {
        epochs: 1, batchSize: 16, lr: 1e-3, optimizer: "adam", seed: 0, target: await cpuTarget({ threads: 1, native }),
        out: tmp.sub(native ? "native" : "no-native"), resume: false, evalBatchSize: 16,
      };
      await train(program, { train: syntheticSplit(48, 1), test: syntheticSplit(16, 2) }, cfg, { line: () => undefined, progress: () => undefined });
      return spy.mock.calls.map(([bytes]) => bytes);
    } finally {
      spy.mockRestore();
    }
  };
  const stateBytes = programFromModel(lenet as ModelDef, adam(), 0).mutable.reduce((sum, t) => sum + 4 * t.dims.reduce((a, d) => a * d, 1), 0);

  test("onnxruntime-node's steps (--no-native) replace every parameter and moment", async () => {
    expect(await run(false)).toEqual([stateBytes, stateBytes, stateBytes]);
  }, 60_000);

  (nativeBinding() ? test : test.skip)("steps on alexc's binding replace nothing: no collection", async () => {
    expect(await run(true)).toEqual([0, 0, 0]);
  }, 60_000);
});
