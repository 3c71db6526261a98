/**
 * The training file's state (docs/training-graph.md): a fresh build stores no optimizer state but
 * creates it in TrainingInfoProto.initialization; a trained file stores what it reached; a file in
 * the layout built before (state as dense zeros, no initialization) still trains the same; every
 * form passes python3-onnx and the IR spec's binding rules (test/reference/onnx_check.py).
 */
import type { Graph } from "../src/graph/ir";
import { sessionBytes } from "../src/emit/session-bytes";
import "./helpers/train-realm";
import * as fs from "fs";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { model, N, Tensor } from "../src";
import { compileModel } from "../src/emit/compile";
import { decodeModel } from "../src/emit/decode";
import { encodeModel } from "../src/emit/encode";
import { onnx } from "../src/emit/proto";
import { formatSummary, summarize } from "../src/emit/summary";
import type { Optimizer } from "../src/train/optim/optimizer";
import { adam } from "../src/train/optim/adam";
import { sgd } from "../src/train/optim/sgd";
import { adamw } from "../src/train/optim/adamw";
import { OPTIMIZER_KEY } from "../src/train/optim/make";
import { programFromModel } from "../src/train/program-dsl";
import { programFromOnnx } from "../src/train/program-onnx";
import { STEP_COUNTER } from "../src/train/step";
import { initial, trainingInfo } from "../src/train/training-info";
import { readTrainingState } from "../src/train/training-state";
import { describeResult, runAlexc } from "./helpers/cli";
import { onnxCheck } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const small = model(
  { name: "small", input: [N, 1, 12, 12], preprocess: { raw: [1, 12, 12] } },
  (x: Tensor) => x.conv2d(4, { kernel: 3 }).relu().maxPool2d(2).flatten().dropout(0.25).linear(10),
);

let tmp: ReturnType<typeof makeTmpDir>;
beforeAll(() => {
  tmp = makeTmpDir("training-file");
});
afterAll(() => tmp.remove());

const built = (optimizer: Optimizer) => decodeModel(encodeModel(compileModel(small, { seed: 3, trainingInfo: (d, s) => trainingInfo(d, optimizer, s) })), "small.onnx");

/** The layout alexc wrote before: every state tensor a dense zero initialiser of the algorithm, no initialization. */
function oldLayout(m: onnx.ModelProto): onnx.ModelProto {
  const ti = m.trainingInfo[0];
  const alg = ti.algorithm!;
  const zeros = (alg.sparseInitializer ?? []).map((s): onnx.ITensorProto => {
    const count = (s.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
    return { name: s.values!.name, dataType: s.values!.dataType, dims: s.dims, rawData: new Uint8Array(4 * count) };
  });
  const step = (alg.initializer ?? []).filter((t) => t.name === STEP_COUNTER);
  const rest = (alg.initializer ?? []).filter((t) => t.name !== STEP_COUNTER);
  return decodeModel(
    encodeModel({ ...m, trainingInfo: [{ algorithm: { ...alg, initializer: [...rest, ...zeros, ...step], sparseInitializer: [] }, updateBinding: ti.updateBinding }] }),
    "old.onnx",
  );
}

function write(name: string, m: onnx.IModelProto | Uint8Array): string {
  const file = path.join(tmp.dir, name);
  fs.writeFileSync(file, m instanceof Uint8Array ? m : encodeModel(m));
  return file;
}

describe.each([
  ["adam", adam(), 8],
  ["sgd with momentum", sgd({ momentum: 0.9 }), 4],
] as const)("%s", (_name, optimizer, stateCount) => {
  const m = built(optimizer);
  const ti = m.trainingInfo[0] as onnx.TrainingInfoProto;
  const state = readTrainingState(m, "small.onnx").variables.filter((v) => !v.parameter && v.name !== STEP_COUNTER);

  test("a fresh build stores each state tensor as a sparse initialiser with no entries, created by the initialization graph", () => {
    expect(state.length).toBe(stateCount);
    const sparse = (ti.algorithm as onnx.GraphProto).sparseInitializer;
    expect(sparse.map((s) => s.values!.name)).toEqual(state.map((s) => s.name));
    for (const s of sparse) expect(s.values!.dims!.map(Number)).toEqual([0]);
    expect((ti.algorithm!.initializer ?? []).map((t) => t.name)).not.toContain(state[0].name);
    expect(ti.initializationBinding.map((b) => [b.key, b.value])).toEqual([...state.map((s) => s.name), STEP_COUNTER].map((k) => [k, initial(k)]));
    expect(formatSummary(summarize(m), "small")).toContain(`${stateCount} optimizer state tensors (0 stored, ${stateCount} zeros created by the initialization graph)`);
  });

  test("python3-onnx: checker, strict shape inference and the IR spec's binding rules pass", () => {
    const check = onnxCheck(write(`${optimizer.name}.onnx`, m)).training_info[0] as { algorithm_sparse_initializers: string[]; initialization_outputs: string[] };
    expect(check.algorithm_sparse_initializers).toEqual(state.map((s) => s.name));
    expect(check.initialization_outputs).toEqual([...state.map((s) => s.name), STEP_COUNTER].map(initial));
  });

  test("the initialization graph runs on onnxruntime: zeros of each state tensor's shape, and step 0", async () => {
    const session = await ort.InferenceSession.create(encodeModel({ irVersion: m.irVersion, opsetImport: m.opsetImport, graph: ti.initialization }));
    const out = await session.run({});
    for (const s of state) {
      expect([...out[initial(s.name)].dims]).toEqual(s.dims);
      expect((out[initial(s.name)].data as Float32Array).every((v) => v === 0)).toBe(true);
    }
    expect(out[initial(STEP_COUNTER)].data).toEqual(BigInt64Array.from([0n]));
  });

  test("a file in the old layout (dense zero state) reads as the same program: same starting values and step model", () => {
    const old = oldLayout(m);
    expect(old.trainingInfo[0].algorithm!.sparseInitializer).toEqual([]);
    onnxCheck(write(`${optimizer.name}-old.onnx`, old));
    const a = programFromOnnx(m, "new.onnx");
    const b = programFromOnnx(old, "old.onnx");
    expect(b.mutable).toEqual(a.mutable);
    expect(b.params).toEqual(a.params);
    expect(b.initial()).toEqual(a.initial());
    expect(a.initial().tensors.get(state[0].name)!.every((v) => v === 0)).toBe(true);
    const same = (x: Graph, y: Graph) => Buffer.from(sessionBytes(x)).equals(Buffer.from(sessionBytes(y)));
    expect(same(b.stepGraph(7), a.stepGraph(7))).toBe(true);
    expect(same(b.loweredStepGraph("dropout").graph, a.loweredStepGraph("dropout").graph)).toBe(true);
    expect(same(b.evalGraph(), a.evalGraph())).toBe(true);
  });

  test("a trained file stores the state it reached (dense) and its step; reading it back gives those values", () => {
    const program = programFromOnnx(m, "small.onnx");
    const { tensors } = program.initial();
    const reached = new Map([...tensors].map(([k, v]) => [k, v.map((_, i) => (i % 7) - 3 + k.length / 10)]));
    const trained = decodeModel(program.trainedModel(reached, 42), "trained.onnx");
    const alg = trained.trainingInfo[0].algorithm as onnx.GraphProto;
    expect(alg.sparseInitializer).toEqual([]);
    expect(alg.initializer.map((t) => t.name)).toEqual(expect.arrayContaining(state.map((s) => s.name)));
    expect(trained.trainingInfo[0].initializationBinding).toEqual(ti.initializationBinding);
    expect(programFromOnnx(trained, "trained.onnx").initial()).toEqual({ tensors: reached, step: 42 });
    expect(formatSummary(summarize(trained), "small")).toContain(`${stateCount} optimizer state tensors (${stateCount} stored, 0 zeros created by the initialization graph)`);
    onnxCheck(write(`${optimizer.name}-trained.onnx`, trained));
    // The model file's own trained output takes the same layout.
    const fromDsl = compileModel(small, { seed: 3, weights: reached, trainingInfo: (d, s) => trainingInfo(d, optimizer, s, { tensors: reached, step: 42 }) });
    expect(programFromOnnx(decodeModel(encodeModel(fromDsl), "dsl.onnx"), "dsl.onnx").initial()).toEqual({ tensors: reached, step: 42 });
  });
});

test("sparse state with entries (linear or coordinate indices, as the IR allows) reads as its dense values", () => {
  const m = built(adam());
  const alg = m.trainingInfo[0].algorithm as onnx.GraphProto;
  const [first, second] = alg.sparseInitializer;
  const dims = (first.dims ?? []).map(Number);
  const int64 = (values: number[], shape: number[]): onnx.ITensorProto => ({ dataType: 7, dims: shape, int64Data: values });
  const withEntries: onnx.ISparseTensorProto[] = [
    { dims: first.dims, values: { name: first.values!.name, dataType: 1, dims: [2], floatData: [1.5, -2] }, indices: int64([0, 5], [2]) },
    { dims: second.dims, values: { name: second.values!.name, dataType: 1, dims: [1], floatData: [3] }, indices: int64([0, 0, 1, 2], [1, 4]) },
  ];
  const edited = decodeModel(encodeModel({ ...m, trainingInfo: [{ ...m.trainingInfo[0], algorithm: { ...alg, sparseInitializer: [...withEntries, ...alg.sparseInitializer.slice(2)] } }] }), "edited.onnx");
  const { tensors } = readTrainingState(edited, "edited.onnx").values();
  const a = new Float32Array(dims.reduce((x, d) => x * d, 1));
  a[0] = 1.5;
  a[5] = -2;
  expect(tensors.get(first.values!.name!)).toEqual(a);
  const b = new Float32Array(a.length);
  b[((0 * dims[1] + 0) * dims[2] + 1) * dims[3] + 2] = 3; // coordinates [0, 0, 1, 2] of a [4, 1, 3, 3] tensor
  expect(dims).toEqual([4, 1, 3, 3]);
  expect(tensors.get(second.values!.name!)).toEqual(b);
});

test("onnx_check.py rejects a binding key that names no initialiser (the IR spec's rule the checker skips)", () => {
  const m = built(adam());
  const ti = m.trainingInfo[0] as onnx.TrainingInfoProto;
  const bad = { ...m, trainingInfo: [{ ...ti, initializationBinding: [...ti.initializationBinding, { key: "nowhere", value: initial(STEP_COUNTER) }] }] };
  expect(() => onnxCheck(write("bad.onnx", bad))).toThrow(/binding key 'nowhere' names no initializer/);
});

test("alexc reads every form: export, export-weights and inspect of fresh, old-layout and trained files agree on the parameters", () => {
  const m = built(adam());
  const trained = programFromOnnx(m, "small.onnx");
  const files = { fresh: write("fresh.onnx", m), old: write("old.onnx", oldLayout(m)), trained: write("trained.onnx", trained.trainedModel(trained.initial().tensors, 5)) };
  const weights: Buffer[] = [];
  const inference: Buffer[] = [];
  for (const [name, file] of Object.entries(files)) {
    const w = path.join(tmp.dir, `${name}.safetensors`);
    const e = path.join(tmp.dir, `${name}-inference.onnx`);
    for (const args of [["export-weights", file, "-o", w, "--names", "alexc"], ["export", file, "-o", e], ["inspect", file]]) {
      const r = runAlexc(args);
      if (r.status !== 0) throw new Error(describeResult(r));
    }
    weights.push(fs.readFileSync(w));
    inference.push(fs.readFileSync(e));
  }
  expect(weights[1].equals(weights[0]) && weights[2].equals(weights[0])).toBe(true);
  expect(inference[1].equals(inference[0]) && inference[2].equals(inference[0])).toBe(true);
});

test("an AdamW file says so (it keeps Adam's state names): `alexc build --optimizer adamw` is read back as adamw, an Adam build as adam", () => {
  const read = (optimizer: string) => {
    const file = path.join(tmp.dir, `lenet-${optimizer}.onnx`);
    const r = runAlexc(["build", "models/lenet.ts", "-o", file, "--optimizer", optimizer]);
    if (r.status !== 0) throw new Error(describeResult(r));
    return decodeModel(fs.readFileSync(file), file);
  };
  const meta = (m: onnx.ModelProto) => new Map(m.metadataProps.map((p) => [p.key, p.value]));
  const w = read("adamw");
  expect(JSON.parse(meta(w).get(OPTIMIZER_KEY)!)).toEqual({ name: "adamw", beta1: 0.9, beta2: 0.999, eps: 1e-8, weightDecay: 0.01 });
  const program = programFromOnnx(w, "lenet-adamw.onnx");
  expect(program.optimizer).toBe("adamw");
  expect(program.mutable.some((t) => t.name.endsWith(".adam_m"))).toBe(true);
  // A trained AdamW file stays one.
  const trained = decodeModel(program.trainedModel(program.initial().tensors, 3), "trained.onnx");
  expect(programFromOnnx(trained, "trained.onnx").optimizer).toBe("adamw");
  const a = read("adam");
  expect(meta(a).has(OPTIMIZER_KEY)).toBe(false);
  expect(programFromOnnx(a, "lenet-adam.onnx").optimizer).toBe("adam");
  // A model file's program writes it into its trained output too.
  const dsl = programFromModel(small, adamw(), 3);
  const dslTrained = decodeModel(dsl.trainedModel(dsl.initial().tensors, 1), "dsl.onnx");
  expect(programFromOnnx(dslTrained, "dsl.onnx").optimizer).toBe("adamw");
});

test("label smoothing outside [0, 1) is one usage error (exit 64) before anything is built; a smoothed build records ε", () => {
  for (const bad of ["1", "-0.1"]) {
    const r = runAlexc(["build", "models/lenet.ts", "-o", path.join(tmp.dir, "bad-ls.onnx"), "--label-smoothing", bad]);
    expect(r.status).toBe(64);
    expect(r.stderr).toContain(`--label-smoothing must be in [0, 1), got ${Number(bad)}`);
  }
  const file = path.join(tmp.dir, "lenet-ls.onnx");
  const r = runAlexc(["build", "models/lenet.ts", "-o", file, "--label-smoothing", "0.1"]);
  if (r.status !== 0) throw new Error(describeResult(r));
  expect(programFromOnnx(decodeModel(fs.readFileSync(file), file), file).labelSmoothing).toBe(0.1);
});
