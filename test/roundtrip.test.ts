/**
 * emit → decode → compare. A model is built with the library API (buildInferenceGraph for the
 * IR; compileModel + encodeModel for the bytes), the bytes are decoded with decodeModel, and
 * the decoded ModelProto is compared with the IR: nodes (names, op types, inputs, outputs,
 * attributes, doc strings), initializer bytes, graph inputs/outputs, value_info shapes,
 * metadata, IR version 8 and opset 17. Then Debian's python3-onnx checks the same files
 * (full_check + strict shape inference) and must agree on the parameter count and shapes.
 */
import * as fs from "fs";
import * as path from "path";
import alexnet from "../models/alexnet";
import lenet from "../models/lenet";
import { FASHION_MNIST_CLASSES, N } from "../src";
import { decodeModel, readModelFile } from "../src/emit/decode";
import { encodeModel, graphProto, modelProto } from "../src/emit/encode";
import { onnx } from "../src/emit/proto";
import { IoError } from "../src/graph/errors";
import { uniformInit } from "../src/graph/init";
import { GraphBuilder } from "../src/graph/ir";
import { buildInferenceGraph } from "../src/graph/trace";
import { Dim, DTYPE_CODE, DType, makeTensor } from "../src/graph/types";
import { version as PACKAGE_VERSION } from "../package.json";
import { REPO_ROOT } from "./helpers/cli";
import { AttrSnap, ModelSnapshot, sha256, snapshotInChild, snapshotModel, tensorBytes, TensorSnap, ValueSnap } from "./helpers/model-snapshot";
import { OnnxCheck, onnxCheck } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const AT = onnx.AttributeProto.AttributeType;
const SEED = 0;

let tmp: ReturnType<typeof makeTmpDir>;
beforeAll(() => {
  tmp = makeTmpDir("roundtrip");
});
afterAll(() => tmp.remove());

// ---------------------------------------------------------------------------------------------
// decoding helpers

/** int64 fields decode as Long objects (protobufjs with long.js) or numbers. */
function num(v: unknown): number {
  if (typeof v === "number") return v;
  if (typeof v === "object" && v !== null && "low" in v && "high" in v) return Number(String(v));
  return Number(v);
}

function dimsOf(t: onnx.ITypeProto | null | undefined): Dim[] {
  return (t?.tensorType?.shape?.dim ?? []).map((d) => (d.dimParam ? d.dimParam : num(d.dimValue)));
}

function valueOf(v: onnx.IValueInfoProto): { name: string; elemType: number; shape: Dim[] } {
  return { name: v.name ?? "", elemType: v.type?.tensorType?.elemType ?? -1, shape: dimsOf(v.type) };
}

function expectedValue(v: ValueSnap): { name: string; elemType: number; shape: Dim[] } {
  return { name: v.name, elemType: DTYPE_CODE[v.dtype], shape: v.shape };
}

function tensorOf(t: onnx.ITensorProto): { name: string; dataType: number; dims: number[]; byteLength: number; sha256: string; doc: string } {
  const raw = t.rawData ?? new Uint8Array(0);
  return { name: t.name ?? "", dataType: t.dataType ?? -1, dims: (t.dims ?? []).map(num), byteLength: raw.byteLength, sha256: sha256(raw), doc: t.docString ?? "" };
}

function expectedTensor(t: TensorSnap) {
  return { name: t.name, dataType: DTYPE_CODE[t.dtype], dims: t.dims, byteLength: t.byteLength, sha256: t.sha256, doc: t.doc ?? "" };
}

function attrOf(a: onnx.IAttributeProto): unknown {
  switch (a.type) {
    case AT.INT:
      return num(a.i);
    case AT.INTS:
      return (a.ints ?? []).map(num);
    case AT.FLOAT:
      return a.f;
    case AT.FLOATS:
      return a.floats;
    case AT.STRING:
      return Buffer.from(a.s ?? new Uint8Array(0)).toString("utf8");
    case AT.TENSOR:
      return tensorOf(a.t!);
    default:
      return `unexpected attribute type ${String(a.type)}`;
  }
}

function expectedAttr(v: AttrSnap): unknown {
  if (typeof v === "number") return Number.isInteger(v) ? v : Math.fround(v);
  if (typeof v === "string" || Array.isArray(v)) return v;
  return expectedTensor(v);
}

/** Node inputs as ONNX writes them: "" for a left-out optional input, trailing ones dropped. */
function onnxInputs(inputs: (string | null)[]): string[] {
  const out = inputs.map((i) => i ?? "");
  while (out.length > 0 && out[out.length - 1] === "") out.pop();
  return out;
}

/** Every check of a decoded model against the IR snapshot it was encoded from. */
function compareWithSnapshot(m: onnx.ModelProto, snap: ModelSnapshot): void {
  // header
  expect(num(m.irVersion)).toBe(8);
  expect(m.opsetImport.map((o) => ({ domain: o.domain, version: num(o.version) }))).toEqual([{ domain: "", version: 17 }]);
  expect(m.producerName).toBe("alexc");
  expect(m.producerVersion).toBe(PACKAGE_VERSION);
  expect(num(m.modelVersion)).toBe(1);
  expect(m.docString).toBe(snap.doc ?? "");
  expect(m.trainingInfo).toEqual([]);

  const g = graphOf(m);
  expect(g.name).toBe(snap.name);

  // nodes
  const nodes = nodesOf(m);
  expect(nodes.map((n) => n.name)).toEqual(snap.nodes.map((n) => n.name));
  nodes.forEach((n, i) => {
    const s = snap.nodes[i];
    expect({ name: n.name, op: n.opType, domain: n.domain, input: n.input, output: n.output }).toEqual({
      name: s.name,
      op: s.op,
      domain: "",
      input: onnxInputs(s.inputs),
      output: s.outputs.map((o) => o.name),
    });
    const attrs = Object.fromEntries(n.attribute.map((a) => [a.name, attrOf(a)]));
    const want = Object.fromEntries(Object.entries(s.attrs).map(([k, v]) => [k, expectedAttr(v)]));
    expect({ node: s.name, attrs }).toEqual({ node: s.name, attrs: want });
    expect(n.docString).toBe(s.doc ?? "");
  });

  // initializers: names, order, dims, types and the exact bytes
  expect(g.initializer.map(tensorOf)).toEqual(snap.initializers.map(expectedTensor));
  for (const t of g.initializer) expect(t.dataLocation ?? 0).toBe(0); // raw_data inside the file, not external

  // graph inputs / outputs / value_info
  expect(g.input.map(valueOf)).toEqual(snap.inputs.map(expectedValue));
  expect(g.output.map(valueOf)).toEqual(snap.outputs.map(expectedValue));
  const outputNames = new Set(snap.outputs.map((o) => o.name));
  const intermediate = snap.nodes.flatMap((n) => n.outputs).filter((v) => !outputNames.has(v.name));
  expect(g.valueInfo.map(valueOf)).toEqual(intermediate.map(expectedValue));

  // metadata
  expect(Object.fromEntries(m.metadataProps.map((p) => [p.key, p.value]))).toEqual(snap.metadata);
}

function graphOf(m: onnx.ModelProto): onnx.GraphProto {
  return m.graph as onnx.GraphProto;
}

function nodesOf(m: onnx.ModelProto): onnx.NodeProto[] {
  return graphOf(m).node as onnx.NodeProto[];
}

function nodeNamed(m: onnx.ModelProto, name: string): onnx.NodeProto {
  const n = nodesOf(m).find((x) => x.name === name);
  if (!n) throw new Error(`no node ${name}`);
  return n;
}

function metadataOf(m: onnx.ModelProto): Record<string, string> {
  return Object.fromEntries(m.metadataProps.map((p) => [p.key!, p.value!]));
}

const ALEXNET_SHAPES: Record<string, Dim[]> = {
  conv1: [N, 96, 55, 55],
  relu1: [N, 96, 55, 55],
  pool1: [N, 96, 27, 27],
  conv2: [N, 256, 27, 27],
  pool2: [N, 256, 13, 13],
  conv3: [N, 384, 13, 13],
  conv4: [N, 384, 13, 13],
  conv5: [N, 256, 13, 13],
  pool3: [N, 256, 6, 6],
  flatten1: [N, 9216],
  fc1: [N, 4096],
  relu6: [N, 4096],
  fc2: [N, 4096],
  relu7: [N, 4096],
};

/**
 * The head's output is the graph output "logits": either fc3's output renamed in place, or an
 * Identity copy of it (both are valid emissions; value_info then holds fc3 or not).
 */
function expectLogitsFromFc3(g: onnx.IGraphProto): void {
  const producer = g.node!.find((n) => n.output!.includes("logits"))!;
  const direct = producer.name === "fc3/Gemm";
  const copied = producer.opType === "Identity" && producer.input![0] === "fc3";
  expect({ producer: producer.name, ok: direct || copied }).toEqual({ producer: producer.name, ok: true });
  expect(g.output!.map((o) => o.name)).toEqual(["logits"]);
}

/** Node names without a trailing logits/Identity copy. */
function layerNodes(g: onnx.IGraphProto): onnx.INodeProto[] {
  return g.node!.filter((n) => n.name !== "logits/Identity");
}

const LENET_SHAPES: Record<string, Dim[]> = {
  conv1: [N, 6, 28, 28],
  sigmoid1: [N, 6, 28, 28],
  pool1: [N, 6, 14, 14],
  conv2: [N, 16, 10, 10],
  pool2: [N, 16, 5, 5],
  flatten1: [N, 400],
  fc1: [N, 120],
  fc2: [N, 84],
};

/** The python checker's view must agree with alexc's own shapes. */
function expectCheckerAgrees(check: OnnxCheck, m: onnx.ModelProto, params: number, shapes: Record<string, Dim[]>, input: Dim[]): void {
  expect(check.ir_version).toBe(8);
  expect(check.opsets).toEqual({ "ai.onnx": 17 });
  expect(check.params).toBe(params);
  expect(check.inputs).toEqual({ input });
  expect(check.outputs).toEqual({ logits: [N, 10] });
  expect(check.value_info).toMatchObject(shapes);
  // strict shape inference reaches the same shape for every value alexc annotated
  expect(check.inferred_value_info).toEqual(check.value_info);
  expect(check.metadata).toEqual(metadataOf(m));
  expect(check.training_info).toEqual([]);
}

// ---------------------------------------------------------------------------------------------

describe("LeNet (built, encoded and decoded in-process)", () => {
  let snap: ModelSnapshot;
  let bytes: Uint8Array;
  let m: onnx.ModelProto;
  let file: string;
  beforeAll(() => {
    ({ snapshot: snap, bytes } = snapshotModel(lenet, SEED));
    m = decodeModel(bytes, "lenet.onnx");
    file = path.join(tmp.dir, "lenet.onnx");
    fs.writeFileSync(file, bytes);
  });

  test("decoded nodes, initializers, value_info and metadata match the IR", () => {
    compareWithSnapshot(m, snap);
    expect(layerNodes(graphOf(m)).map((n) => n.opType)).toEqual([
      "Conv", "Sigmoid", "AveragePool",
      "Conv", "Sigmoid", "AveragePool",
      "Flatten",
      "Gemm", "Sigmoid", "Gemm", "Sigmoid", "Gemm",
    ]);
    expectLogitsFromFc3(graphOf(m));
  });

  test("a few decoded values by hand: conv1's attributes and its doc string pointing at models/lenet.ts", () => {
    const conv1 = nodesOf(m)[0];
    expect(conv1.name).toBe("conv1/Conv");
    expect(conv1.input).toEqual(["input", "conv1.weight", "conv1.bias"]);
    expect(Object.fromEntries(conv1.attribute.map((a) => [a.name, attrOf(a)]))).toEqual({
      kernel_shape: [5, 5],
      strides: [1, 1],
      pads: [2, 2, 2, 2],
      dilations: [1, 1],
    });
    const src = fs.readFileSync(path.join(REPO_ROOT, "models", "lenet.ts"), "utf8").split("\n");
    const line = src.findIndex((l) => l.includes(".conv2d(6,")) + 1;
    expect(conv1.docString).toBe(`lenet.ts:${line}:${src[line - 1].indexOf(".conv2d(6,") + 2}`);
    const fc1 = nodeNamed(m, "fc1/Gemm");
    expect(fc1.attribute.map((a) => [a.name, attrOf(a)])).toEqual([["transB", 1]]);
  });

  test("initializer values are PyTorch's default init U(±1/√fan_in), drawn from (seed, name)", () => {
    const inits = new Map(graphOf(m).initializer.map((t) => [t.name!, t]));
    const fanIn: Record<string, number> = { conv1: 25, conv2: 150, fc1: 400, fc2: 120, fc3: 84 };
    for (const [layer, fan] of Object.entries(fanIn)) {
      for (const suffix of ["weight", "bias"]) {
        const t = inits.get(`${layer}.${suffix}`)!;
        const raw = t.rawData!;
        const values = new Float32Array(new Uint8Array(raw).buffer);
        expect(values).toEqual(uniformInit(SEED, `${layer}.${suffix}`, values.length, fan));
        const bound = 1 / Math.sqrt(fan);
        expect(Math.max(...values.map(Math.abs))).toBeLessThanOrEqual(bound);
        expect(t.docString).toBe(`PyTorch default init U(±1/√${fan})`);
      }
    }
    expect([...inits.keys()]).toEqual(["conv1.weight", "conv1.bias", "conv2.weight", "conv2.bias", "fc1.weight", "fc1.bias", "fc2.weight", "fc2.bias", "fc3.weight", "fc3.bias"]);
  });

  test("metadata: model, seed, classes, preprocessing and training defaults as JSON", () => {
    const meta = metadataOf(m);
    expect(meta["alexc.model"]).toBe("lenet");
    expect(meta["alexc.seed"]).toBe(String(SEED));
    expect(JSON.parse(meta["alexc.classes"])).toEqual([...FASHION_MNIST_CLASSES]);
    expect(JSON.parse(meta["alexc.preprocess"])).toMatchObject({ raw: { dtype: "uint8", shape: ["N", 1, 28, 28] }, scale: "x / 255", resize: null });
    expect(JSON.parse(meta["alexc.train_defaults"])).toEqual(lenet.spec.train);
  });

  test("encoding is deterministic; re-encoding the decoded proto gives the same bytes; seeds change only weights", () => {
    const again = snapshotModel(lenet, SEED);
    expect(Buffer.from(again.bytes).equals(Buffer.from(bytes))).toBe(true);
    expect(Buffer.from(encodeModel(m)).equals(Buffer.from(bytes))).toBe(true);
    const other = snapshotModel(lenet, SEED + 1).snapshot;
    expect(other.nodes).toEqual(snap.nodes);
    expect(other.initializers.map((t) => t.sha256)).not.toEqual(snap.initializers.map((t) => t.sha256));
    expect(other.initializers.map(({ sha256: _, ...rest }) => rest)).toEqual(snap.initializers.map(({ sha256: _, ...rest }) => rest));
    expect(other.metadata["alexc.seed"]).toBe(String(SEED + 1));
  });

  test("readModelFile reads the file back to the same model", () => {
    const back = readModelFile(file);
    expect(Buffer.from(encodeModel(back)).equals(Buffer.from(bytes))).toBe(true);
  });

  test("python3-onnx: full_check and strict shape inference pass; 61,706 params; LeNet's shapes", () => {
    expectCheckerAgrees(onnxCheck(file), m, 61_706, LENET_SHAPES, [N, 1, 28, 28]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("AlexNet (built and encoded by the library API in a child process, decoded here)", () => {
  let snap: ModelSnapshot;
  let file: string;
  let bytes: Buffer;
  let m: onnx.ModelProto;
  beforeAll(() => {
    file = path.join(tmp.dir, "alexnet.onnx");
    snap = snapshotInChild("models/alexnet.ts", SEED, file, path.join(tmp.dir, "alexnet.json"));
    bytes = fs.readFileSync(file);
    m = decodeModel(bytes, file);
  });

  test("the file is the one the child encoded", () => {
    expect({ sha256: sha256(bytes), byteLength: bytes.byteLength }).toEqual(snap.file);
  });

  test("decoded nodes, initializers, value_info and metadata match the IR", () => {
    compareWithSnapshot(m, snap);
    expect(layerNodes(graphOf(m)).map((n) => n.name)).toEqual([
      "conv1/Conv", "relu1/Relu", "pool1/MaxPool",
      "conv2/Conv", "relu2/Relu", "pool2/MaxPool",
      "conv3/Conv", "relu3/Relu", "conv4/Conv", "relu4/Relu", "conv5/Conv", "relu5/Relu", "pool3/MaxPool",
      "flatten1/Flatten",
      "fc1/Gemm", "relu6/Relu", "fc2/Gemm", "relu7/Relu", "fc3/Gemm",
    ]);
    expectLogitsFromFc3(graphOf(m));
    // Dropout is the identity at inference: absent from the graph
    expect(nodesOf(m).some((n) => n.opType === "Dropout")).toBe(false);
  });

  test("value_info carries the seed tutorial's shapes", () => {
    const shapes = Object.fromEntries(graphOf(m).valueInfo.map((v) => [v.name, dimsOf(v.type)]));
    expect(shapes).toMatchObject(ALEXNET_SHAPES);
  });

  test("pool and conv attributes as PyTorch's nn.Sequential has them", () => {
    const attrs = (name: string) => Object.fromEntries(nodeNamed(m, name).attribute.map((a) => [a.name, attrOf(a)]));
    expect(attrs("conv1/Conv")).toEqual({ kernel_shape: [11, 11], strides: [4, 4], pads: [2, 2, 2, 2], dilations: [1, 1] });
    expect(attrs("pool1/MaxPool")).toEqual({ kernel_shape: [3, 3], strides: [2, 2], pads: [0, 0, 0, 0] });
    expect(attrs("flatten1/Flatten")).toEqual({ axis: 1 });
  });

  test("58,299,082 float parameters; the first values of each tensor follow U(±1/√fan_in) from (seed, name)", () => {
    const fanIn: Record<string, number> = { conv1: 121, conv2: 2400, conv3: 2304, conv4: 3456, conv5: 3456, fc1: 9216, fc2: 4096, fc3: 4096 };
    let total = 0;
    for (const t of graphOf(m).initializer) {
      const count = (t.dims ?? []).map(num).reduce((a, b) => a * b, 1);
      total += count;
      const fan = fanIn[t.name!.split(".")[0]];
      // A prefix is enough: each tensor's stream is sequential (the whole tensors are compared below).
      const k = Math.min(count, 2000);
      const head = new Float32Array(new Uint8Array(t.rawData!.subarray(0, 4 * k)).buffer);
      expect(head).toEqual(uniformInit(SEED, t.name!, k, fan));
    }
    expect(total).toBe(58_299_082);
  });

  test("built in-process under jest: all 58M initial values in seconds, identical to the child's (regression)", () => {
    // random.ts once called Math.imul in its hot loop; under jest `Math` is a sandbox global
    // and each lookup is slow, so this build took ~65 s here (2 s under node). Now ~1 s.
    const t0 = Date.now();
    const { b } = buildInferenceGraph(alexnet, SEED);
    const ms = Date.now() - t0;
    const inits = b.build().initializers.map((t) => ({ name: t.name, sha256: sha256(tensorBytes(t)) }));
    expect(inits).toEqual(snap.initializers.map((t) => ({ name: t.name, sha256: t.sha256 })));
    if (ms > 20_000) throw new Error(`building AlexNet's inference graph under jest took ${(ms / 1000).toFixed(1)} s (expected a few seconds)`);
  });

  test("metadata names the 224×224 bilinear preprocessing and Adam defaults", () => {
    const meta = metadataOf(m);
    expect(meta["alexc.model"]).toBe("alexnet");
    expect(JSON.parse(meta["alexc.preprocess"])).toMatchObject({
      raw: { dtype: "uint8", shape: ["N", 1, 28, 28] },
      resize: { size: [224, 224], mode: "bilinear", coordinates: "half_pixel" },
    });
    expect(JSON.parse(meta["alexc.train_defaults"])).toEqual(alexnet.spec.train);
  });

  test("re-encoding the decoded proto gives the same bytes", () => {
    expect(sha256(encodeModel(m))).toBe(snap.file.sha256);
  });

  test("python3-onnx: full_check and strict shape inference pass; 58,299,082 params; the seed's shapes", () => {
    expectCheckerAgrees(onnxCheck(file), m, 58_299_082, ALEXNET_SHAPES, [N, 1, 224, 224]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("a synthetic graph exercising every attribute kind, dtype and optional input", () => {
  let b: GraphBuilder;
  let bytes: Uint8Array;
  let m: onnx.ModelProto;
  beforeAll(() => {
    b = new GraphBuilder("synthetic");
    const x = b.input("x", "float32", [N, 3, 8, 8]);
    const w = b.initializer(makeTensor("w", "float32", [4, 3, 3, 3], Array.from({ length: 108 }, (_, i) => (i - 54) / 7)));
    const conv = b.op1("Conv", [x, w, undefined], { kernel_shape: [3, 3], pads: [1, 1, 1, 1], group: 1 }, { name: "conv/Conv" });
    const flat = b.op1("Flatten", [conv], { axis: 1 }, { name: "flat" });
    const fcw = b.initializer(makeTensor("fcw", "float32", [5, 256], Array.from({ length: 1280 }, (_, i) => Math.sin(i))));
    const y = b.op1("Gemm", [flat, fcw], { transB: 1, alpha: 0.1, beta: 1 }, { name: "fc" });
    const [d] = b.op("Dropout", [y, undefined, b.constant("bool", [], [0])], { seed: 2147483646 }, { name: "drop" });
    const labels = b.input("labels", "int64", [N]);
    const [loss] = b.op("SoftmaxCrossEntropyLoss", [d, labels], { reduction: "mean", ignore_index: -100 }, { name: "loss" });
    const zeros = b.op1("ConstantOfShape", [b.op1("Shape", [x], {}, { name: "shape" })], { value: makeTensor("", "float64", [1], [0.25]) }, { name: "zeros" });
    const am = b.op1("ArgMax", [d], { axis: -1, keepdims: 0 }, { name: "argmax" });
    // one initializer of each remaining dtype, with values that need every byte
    b.initializer(makeTensor("i32", "int32", [3], [-1, 0, 2147483647]));
    b.initializer(makeTensor("u8", "uint8", [4], [0, 1, 128, 255]));
    b.initializer(makeTensor("f64", "float64", [2], [Math.PI, -1e-300]));
    b.initializer(makeTensor("i64", "int64", [2], [-9007199254740991, 42]));
    b.output(loss, "loss");
    b.output(zeros);
    b.output(am);
    const graph = graphProto(b.build("a synthetic graph"), { nodeDoc: (n) => `doc of ${n.name}` });
    bytes = encodeModel(modelProto(graph, { doc: "synthetic", metadata: { k: "v", "ü": "ünïcode ✓" } }));
    m = decodeModel(bytes, "synthetic.onnx");
  });

  test("attributes of every kind survive, typed by the op's schema", () => {
    const attrs = (name: string) => Object.fromEntries(nodeNamed(m, name).attribute.map((a) => [a.name, [a.type, attrOf(a)]]));
    expect(attrs("conv/Conv")).toEqual({ kernel_shape: [AT.INTS, [3, 3]], pads: [AT.INTS, [1, 1, 1, 1]], group: [AT.INT, 1] });
    expect(attrs("fc")).toEqual({ transB: [AT.INT, 1], alpha: [AT.FLOAT, Math.fround(0.1)], beta: [AT.FLOAT, 1] });
    expect(attrs("drop")).toEqual({ seed: [AT.INT, 2147483646] });
    expect(attrs("loss")).toEqual({ reduction: [AT.STRING, "mean"], ignore_index: [AT.INT, -100] });
    expect(attrs("argmax")).toEqual({ axis: [AT.INT, -1], keepdims: [AT.INT, 0] });
    const value = nodeNamed(m, "zeros").attribute[0];
    expect(value.type).toBe(AT.TENSOR);
    expect(tensorOf(value.t!)).toMatchObject({ dataType: DTYPE_CODE.float64, dims: [1] });
    expect(new Float64Array(new Uint8Array(value.t!.rawData!).buffer)).toEqual(Float64Array.from([0.25]));
  });

  test("optional inputs: a left-out trailing input is dropped, a left-out middle input is ''", () => {
    const node = (name: string) => nodeNamed(m, name);
    expect(node("conv/Conv").input).toEqual(["x", "w"]);
    expect(node("drop").input).toEqual(["fc", "", "const/bool/scalar/0"]);
    expect(node("conv/Conv").docString).toBe("doc of conv/Conv");
  });

  test("initializers of every dtype keep their exact little-endian bytes and codes", () => {
    const inits = new Map(graphOf(m).initializer.map((t) => [t.name!, t]));
    const check = (name: string, dtype: DType, expected: ArrayBufferView) => {
      const t = inits.get(name)!;
      expect(t.dataType).toBe(DTYPE_CODE[dtype]);
      expect(Buffer.from(t.rawData!).equals(Buffer.from(expected.buffer, expected.byteOffset, expected.byteLength))).toBe(true);
    };
    check("i32", "int32", Int32Array.from([-1, 0, 2147483647]));
    check("u8", "uint8", Uint8Array.from([0, 1, 128, 255]));
    check("f64", "float64", Float64Array.from([Math.PI, -1e-300]));
    check("i64", "int64", BigInt64Array.from([-9007199254740991n, 42n]));
    check("const/bool/scalar/0", "bool", Uint8Array.from([0]));
    expect((inits.get("const/bool/scalar/0")!.dims ?? []).length).toBe(0);
    check("w", "float32", Float32Array.from(Array.from({ length: 108 }, (_, i) => (i - 54) / 7)));
  });

  test("value_info: symbolic and static dims, every intermediate value, graph outputs excluded", () => {
    const info = Object.fromEntries(graphOf(m).valueInfo.map((v) => [v.name, [v.type!.tensorType!.elemType, dimsOf(v.type)]]));
    expect(info).toEqual({
      "conv/Conv": [DTYPE_CODE.float32, [N, 4, 8, 8]],
      flat: [DTYPE_CODE.float32, [N, 256]],
      fc: [DTYPE_CODE.float32, [N, 5]],
      drop: [DTYPE_CODE.float32, [N, 5]],
      shape: [DTYPE_CODE.int64, [4]],
    });
    expect(graphOf(m).output.map(valueOf)).toEqual([
      { name: "loss", elemType: DTYPE_CODE.float32, shape: [] },
      { name: "zeros", elemType: DTYPE_CODE.float64, shape: [N, 3, 8, 8] },
      { name: "argmax", elemType: DTYPE_CODE.int64, shape: [N] },
    ]);
    expect(graphOf(m).input.map(valueOf)).toEqual([
      { name: "x", elemType: DTYPE_CODE.float32, shape: [N, 3, 8, 8] },
      { name: "labels", elemType: DTYPE_CODE.int64, shape: [N] },
    ]);
  });

  test("model fields: doc, unicode metadata, IR 8, opset 17", () => {
    expect(m.docString).toBe("synthetic");
    expect(graphOf(m).docString).toBe("a synthetic graph");
    expect(metadataOf(m)).toEqual({ k: "v", "ü": "ünïcode ✓" });
    expect(num(m.irVersion)).toBe(8);
    expect(m.opsetImport.map((o) => num(o.version))).toEqual([17]);
  });

  test("python3-onnx: full_check + strict shape inference accept it", () => {
    const file = path.join(tmp.dir, "synthetic.onnx");
    fs.writeFileSync(file, bytes);
    const check = onnxCheck(file);
    expect(check.inferred_value_info).toMatchObject({ flat: [N, 256], fc: [N, 5] });
  });
});

// ---------------------------------------------------------------------------------------------

describe("decodeModel rejects what is not an ONNX model, naming the source", () => {
  test.each([
    ["text", Buffer.from("hello, world\n")],
    ["empty", Buffer.alloc(0)],
    ["truncated ONNX", null],
  ])("%s", (label, data) => {
    const bytes = data ?? Buffer.from(snapshotModel(lenet, 0).bytes).subarray(0, 1000);
    let err: unknown;
    try {
      decodeModel(bytes, `${label}.onnx`);
    } catch (e) {
      err = e;
    }
    expect(err).toBeInstanceOf(IoError);
    expect((err as IoError).message).toMatch(new RegExp(`^${label}\\.onnx: not an ONNX model \\(.+\\)$`));
    expect((err as IoError).exitCode).toBe(4);
  });

  test("readModelFile on a missing file", () => {
    const missing = path.join(tmp.dir, "missing.onnx");
    expect(() => readModelFile(missing)).toThrow(new IoError(`${missing}: no such file`));
  });
});
