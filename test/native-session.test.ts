/**
 * alexc's own onnxruntime binding (src/train/native/ort-session.cc, native-session.ts): the
 * training step with every update written into the array it replaces. Checked against
 * onnxruntime-node running the same step graph into fresh outputs: equal bit for bit over
 * several steps (LeNet, a small CNN with live dropout, AlexNet); every reader of an updated
 * tensor is ordered before its write (passes/in-place.ts), checked on the graph by a walk of its own;
 * bad feeds and released sessions fail with a message.
 */
import "./helpers/train-realm";
import * as fs from "fs";
import * as ort from "onnxruntime-node";
import * as os from "os";
import * as path from "path";
import { sessionBytes } from "../src/emit/session-bytes";
import type { ModelDef } from "../src/graph/dsl";
import type { Graph, Node } from "../src/graph/ir";
import { orderForInPlace } from "../src/passes/in-place";
import { nchwc } from "../src/passes/nchwc";
import { nchwcBlockSize } from "../src/train/nchwc-probe";
import { NATIVE_ADDON } from "../src/train/native-addon";
import { nativeBinding, NativeStepSession } from "../src/train/native-session";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import { createSession } from "../src/train/session";
import { next, STEP_COUNTER } from "../src/train/step";
import { batchFeeds, maskFeeds, stateFeeds } from "../scripts/bench/step-feeds";
import lenet from "../models/lenet";
import alexnet from "../models/alexnet";
import smallCnn from "./fixtures/small-cnn";

test("the binding is built (npm ci runs scripts/build-native.sh; it needs g++)", () => {
  if (!nativeBinding()) throw new Error(`${NATIVE_ADDON} is missing: run \`bash scripts/build-native.sh\``);
});

function copyFeeds(feeds: Record<string, ort.Tensor>): Record<string, ort.Tensor> {
  return Object.fromEntries(Object.entries(feeds).map(([k, t]) => [k, new ort.Tensor(t.type as "float32", (t.data as Float32Array).slice(), t.dims)]));
}

function sameBits(a: ort.Tensor, b: ort.Tensor): boolean {
  const x = a.data as Float32Array | BigInt64Array;
  const y = b.data as Float32Array | BigInt64Array;
  if (x.length !== y.length || a.type !== b.type) return false;
  const u = new Uint8Array(x.buffer, x.byteOffset, x.byteLength);
  const v = new Uint8Array(y.buffer, y.byteOffset, y.byteLength);
  for (let i = 0; i < u.length; i++) if (u[i] !== v[i]) return false;
  return true;
}

async function compareSteps(def: ModelDef, batch: number, steps: number): Promise<void> {
  const program = programFromModel(def, adam(), 0);
  const lowered = program.loweredStepGraph("dropout");
  const graph = nchwc(await nchwcBlockSize())(lowered.graph);
  const names = program.mutable.map((t) => t.name);
  const reference = await createSession(sessionBytes(graph), { memoryPattern: false, threads: 2 });
  const native = NativeStepSession.create(graph, { threads: 2, memoryPattern: false, inPlace: next, mutable: names });
  expect(native.inPlace.sort()).toEqual([...names].sort());

  const a: Record<string, ort.Tensor> = { ...batchFeeds(program, batch, 0, 1e-2), ...maskFeeds(lowered.masks, batch, 0), ...stateFeeds(program) };
  const b = copyFeeds(a);
  const initial = (b["fc3.weight"] ?? b[names[0]]).data.slice() as Float32Array;
  for (let s = 0; s < steps; s++) {
    const outA = await reference.run(a);
    const fedB = { ...b };
    const outB = await native.run(b);
    expect(outB.loss.data[0]).toBe(outA.loss.data[0]);
    expect(outB.correct.data[0]).toBe(outA.correct.data[0]);
    for (const name of names) {
      // The update went into the array that was fed.
      expect(outB[next(name)].data).toBe(fedB[name].data);
      if (!sameBits(outA[next(name)], outB[next(name)])) throw new Error(`${def.spec.name}: ${name} differs after step ${s + 1}`);
    }
    for (const name of [...names, STEP_COUNTER]) {
      a[name] = outA[next(name)] as ort.Tensor;
      b[name] = outB[next(name)];
    }
    Object.assign(a, batchFeeds(program, batch, s + 1, 1e-2), { [STEP_COUNTER]: a[STEP_COUNTER] });
    Object.assign(b, batchFeeds(program, batch, s + 1, 1e-2), { [STEP_COUNTER]: b[STEP_COUNTER] });
  }
  // The steps did move the weights: the comparison is not of untouched arrays.
  expect(((b["fc3.weight"] ?? b[names[0]]).data as Float32Array).some((v, i) => v !== initial[i])).toBe(true);
  await native.release();
  await reference.release();
}

test("LeNet: 3 steps in place equal 3 steps of onnxruntime-node, bit for bit", () => compareSteps(lenet as ModelDef, 16, 3));
test("small CNN (overlapping pools, live dropout): 3 steps in place equal onnxruntime-node's, bit for bit", () => compareSteps(smallCnn, 8, 3));
test("AlexNet: 2 steps in place equal onnxruntime-node's, bit for bit", () => compareSteps(alexnet as ModelDef, 2, 2), 120_000);

test("every reader of an updated tensor runs before the node that overwrites it (graph walk)", async () => {
  const program = programFromModel(alexnet as ModelDef, adam(), 0);
  const graph = nchwc(await nchwcBlockSize())(program.loweredStepGraph("dropout").graph);
  const names = program.mutable.map((t) => t.name);
  const late = (g: Graph): string[] => {
    const nodes = g.nodes;
    const producer = new Map(nodes.flatMap((n) => n.outputs.map((o) => [o.name, n] as const)));
    const out: string[] = [];
    for (const name of names) {
      const writer = producer.get(next(name))!;
      // Everything the writer waits for.
      const before = new Set<unknown>();
      const stack: Node[] = [writer];
      while (stack.length) {
        for (const i of stack.pop()!.inputs) {
          const p = i && producer.get(i.name);
          if (p && !before.has(p)) {
            before.add(p);
            stack.push(p);
          }
        }
      }
      // Everything that reads the buffer, directly or through a view of it.
      const buffers = new Set([name]);
      for (const n of nodes) {
        if (!n.inputs.some((i) => i && buffers.has(i.name))) continue;
        if (["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"].includes(n.op)) n.outputs.forEach((o) => buffers.add(o.name));
        else if (n !== writer && !before.has(n)) out.push(`${n.name} reads ${name}`);
      }
    }
    return out;
  };
  // Without the pass the backward reads weights (dX) with nothing ordering it before their update.
  expect(late(graph).length).toBeGreaterThan(0);
  const plan = orderForInPlace(names, next)(graph);
  expect(plan.inPlace.length).toBe(names.length);
  expect(late(plan)).toEqual([]);
});

test("bad feeds and a released session fail with a message", async () => {
  const program = programFromModel(lenet as ModelDef, adam(), 0);
  const lowered = program.loweredStepGraph("dropout");
  const names = program.mutable.map((t) => t.name);
  const s = NativeStepSession.create(lowered.graph, { threads: 1, inPlace: next, mutable: names });
  const feeds = { ...batchFeeds(program, 4), ...stateFeeds(program) };
  const w = names[0];
  const before = (feeds[w].data as Float32Array).slice();
  const wrong = { ...feeds, [w]: new ort.Tensor("float32", new Float32Array(feeds[w].data.length + 1), [feeds[w].data.length + 1]) };
  await expect(s.run(wrong)).rejects.toThrow(/Invalid rank|dimension|shape/i);
  const missing: Record<string, ort.Tensor> = { ...feeds };
  delete missing.labels;
  await expect(s.run(missing)).rejects.toThrow(/labels/);
  // A failed run leaves the fed arrays as they were.
  expect(sameBits(feeds[w], new ort.Tensor("float32", before, feeds[w].dims))).toBe(true);
  await s.release();
  await expect(s.run(feeds)).rejects.toThrow(/released/);
  const batchSized = { ...lowered.graph, outputs: [{ name: "loss:log_prob", dtype: "float32" as const, shape: ["N", 10] }] };
  expect(() => NativeStepSession.create(batchSized, { threads: 1 })).toThrow(/'loss:log_prob' has no static tensor type/);
});

test("a profiled session writes onnxruntime's profile of its runs, with a kernel time per node", async () => {
  const program = programFromModel(lenet as ModelDef, adam(), 0);
  const lowered = program.loweredStepGraph("dropout");
  const names = program.mutable.map((t) => t.name);
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alexc-native-profile-"));
  try {
    const s = NativeStepSession.create(lowered.graph, { threads: 1, inPlace: next, mutable: names, profilePrefix: path.join(dir, "step") });
    const feeds = { ...batchFeeds(program, 4), ...stateFeeds(program) };
    await s.run(feeds);
    const file = s.endProfiling();
    expect(path.resolve(file).startsWith(dir)).toBe(true);
    const events = JSON.parse(fs.readFileSync(file, "utf8")) as { cat: string; name: string; args?: { op_name?: string } }[];
    expect(events.filter((e) => e.cat === "Session" && e.name === "model_run")).toHaveLength(1);
    const kernels = events.filter((e) => e.cat === "Node" && e.name.endsWith("_kernel_time")).map((e) => e.args?.op_name);
    expect(kernels).toEqual(expect.arrayContaining(["AveragePool", "Gemm", "LogSoftmax"]));
    expect(kernels.length).toBeGreaterThan(50);
    await s.release();
    expect(() => s.endProfiling()).toThrow(/released/);
  } finally {
    fs.rmSync(dir, { recursive: true, force: true });
  }
});
