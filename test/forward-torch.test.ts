/**
 * The built models compute what PyTorch computes. onnxruntime-node runs the emitted AlexNet,
 * ResNet-18 and LeNet on a small seeded batch; test/reference/torch_ref.py (a PyTorch interpreter of the ONNX
 * graph, no onnxruntime) runs the same file on the same .npy input; the logits agree within
 * 1e-4 relative. A second runtime, onnxruntime-web (WASM), runs LeNet and agrees with
 * onnxruntime-node within 1e-5. Arrays travel between Node and Python as .npy files
 * (test/helpers/npy.ts), which are checked against numpy first.
 *
 * ALEXC_TEST_REPORT=1 prints the agreement statistics of each comparison.
 */
import "./helpers/train-realm"; // first: jest's sandbox must use the main realm's typed arrays (see there)
import * as fs from "fs";
import * as path from "path";
import lenet from "../models/lenet";
import { expectClose, maxAbs, randomImages, runOrtNode, runOrtWeb } from "./helpers/logits";
import { snapshotInChild, snapshotModel } from "./helpers/model-snapshot";
import { decodeModel } from "../src/emit/decode";
import { encodeModel } from "../src/emit/encode";
import { onnx } from "../src/emit/proto";
import { decodeNpy, encodeNpy, NpyArray, readNpy, writeNpy } from "./helpers/npy";
import { python, torchForward } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const RTOL_TORCH = 1e-4;
const RTOL_WEB = 1e-5;

let tmp: ReturnType<typeof makeTmpDir>;
beforeAll(() => {
  tmp = makeTmpDir("forward");
});
afterAll(() => tmp.remove());

function runTorch(model: string, x: Float32Array, shape: number[], tag: string): NpyArray {
  const inFile = path.join(tmp.dir, `${tag}-in.npy`);
  const outFile = path.join(tmp.dir, `${tag}-torch.npy`);
  writeNpy(inFile, x, shape);
  torchForward(model, inFile, outFile);
  return readNpy(outFile);
}

/**
 * The outputs must be worth comparing: finite, not constant, different per image by at least
 * `minRowDiff` of the logits' scale. Where images move the logits far more than the tolerance,
 * agreement within the tolerance also checks how the graph treats its input.
 */
function expectInformative(y: Float32Array, batch: number, classes: number, minRowDiff: number): void {
  expect(y.length).toBe(batch * classes);
  expect(Array.from(y).every(Number.isFinite)).toBe(true);
  expect(new Set(Array.from(y)).size).toBeGreaterThan(classes);
  const rowDiff = Math.max(...Array.from({ length: classes }, (_, j) => Math.abs(y[j] - y[classes + j])));
  expect(rowDiff / maxAbs(y)).toBeGreaterThan(minRowDiff);
}

/** A copy of a model with every float initializer multiplied by k (same graph, other weights). */
function scaleWeights(bytes: Uint8Array, k: number): Uint8Array {
  const m = decodeModel(bytes, "model");
  for (const t of (m.graph as onnx.GraphProto).initializer) {
    if (t.dataType !== 1 || !t.rawData) continue;
    const values = new Float32Array(new Uint8Array(t.rawData).buffer).map((v) => v * k);
    t.rawData = new Uint8Array(values.buffer);
  }
  return encodeModel(m);
}

// ---------------------------------------------------------------------------------------------

describe("the .npy helper agrees with numpy", () => {
  test("header is padded so that the data starts at a multiple of 64 bytes", () => {
    for (const shape of [[], [3], [2, 1, 224, 224], [1, 2, 3, 4, 5, 6, 7, 8]]) {
      const count = shape.reduce((a, b) => a * b, 1);
      const buf = encodeNpy(new Float32Array(count), shape);
      const headerLen = buf.readUInt16LE(8);
      expect((10 + headerLen) % 64).toBe(0);
      expect(buf[10 + headerLen - 1]).toBe(0x0a); // "\n"
      expect(buf.length).toBe(10 + headerLen + 4 * count);
      expect(decodeNpy(buf).shape).toEqual(shape);
    }
    const header = encodeNpy(new Float32Array(2 * 224 * 224), [2, 1, 224, 224]).subarray(10, 10 + 70).toString("latin1");
    expect(header.startsWith("{'descr': '<f4', 'fortran_order': False, 'shape': (2, 1, 224, 224), }")).toBe(true);
  });

  test("numpy reads what we write and we read what numpy writes", () => {
    const dir = tmp.sub("npy");
    writeNpy(path.join(dir, "f4.npy"), Float32Array.from([1.5, -2, 3.25, 0, 1e-7, -1e30]), [2, 3]);
    writeNpy(path.join(dir, "f8.npy"), Float64Array.from([Math.PI]), []);
    writeNpy(path.join(dir, "i8.npy"), BigInt64Array.from([-1n, 9007199254740993n]), [2]);
    writeNpy(path.join(dir, "u1.npy"), Uint8Array.from([0, 255, 7]), [3, 1]);
    const out = python(
      `
import json, sys, numpy as np
d = sys.argv[1]
res = {}
for k in ["f4", "f8", "i8", "u1"]:
    a = np.load(f"{d}/{k}.npy")
    res[k] = {"dtype": a.dtype.str, "shape": list(a.shape), "values": [repr(v) for v in a.ravel().tolist()]}
np.save(f"{d}/py_f4.npy", np.arange(24, dtype=np.float32).reshape(2, 3, 4) / 8)
np.save(f"{d}/py_f8.npy", np.array([1.0, -0.5]))
np.save(f"{d}/py_i8.npy", np.array([[-3, 2**40]], dtype=np.int64))
np.save(f"{d}/py_scalar.npy", np.float32(2.5))
np.save(f"{d}/py_fortran.npy", np.asfortranarray(np.ones((2, 3), dtype=np.float32)))
print(json.dumps(res))
`,
      [dir],
    );
    expect(JSON.parse(out)).toEqual({
      f4: { dtype: "<f4", shape: [2, 3], values: ["1.5", "-2.0", "3.25", "0.0", repr32(1e-7), repr32(-1e30)] },
      f8: { dtype: "<f8", shape: [], values: ["3.141592653589793"] },
      i8: { dtype: "<i8", shape: [2], values: ["-1", "9007199254740993"] },
      u1: { dtype: "|u1", shape: [3, 1], values: ["0", "255", "7"] },
    });
    const f4 = readNpy(path.join(dir, "py_f4.npy"));
    expect(f4.descr).toBe("<f4");
    expect(f4.shape).toEqual([2, 3, 4]);
    expect(Array.from(f4.data as Float32Array)).toEqual(Array.from({ length: 24 }, (_, i) => i / 8));
    expect(readNpy(path.join(dir, "py_f8.npy"))).toEqual({ descr: "<f8", shape: [2], data: Float64Array.from([1, -0.5]) });
    expect(readNpy(path.join(dir, "py_i8.npy"))).toEqual({ descr: "<i8", shape: [1, 2], data: BigInt64Array.from([-3n, 2n ** 40n]) });
    expect(readNpy(path.join(dir, "py_scalar.npy"))).toEqual({ descr: "<f4", shape: [], data: Float32Array.from([2.5]) });
    expect(() => readNpy(path.join(dir, "py_fortran.npy"))).toThrow("npy: fortran_order arrays are not supported");
    expect(() => decodeNpy(Buffer.from("not npy at all"))).toThrow("npy: bad magic (not a .npy file)");
  });
});

/** Python's repr of a float32 value widened to float64 (what np.float32(...).tolist() prints). */
function repr32(v: number): string {
  const f = Math.fround(v);
  return python(`import sys; print(repr(float(sys.argv[1])))`, [String(f)]).trim();
}

// ---------------------------------------------------------------------------------------------

describe("AlexNet: onnxruntime-node and PyTorch agree", () => {
  const shape = [2, 1, 224, 224];
  let model: string;
  beforeAll(() => {
    // Built with the library API in a child node: under jest, drawing 58M initial values is ~30× slower.
    model = path.join(tmp.dir, "alexnet.onnx");
    snapshotInChild("models/alexnet.ts", 0, model, path.join(tmp.dir, "alexnet.json"));
  });

  test("logits of 2 seeded images within 1e-4 relative", async () => {
    const x = randomImages(shape, 2024);
    const y = await runOrtNode(model, x, shape);
    expect(y.dims).toEqual([2, 10]);
    // AlexNet at its random init: the two images' logits differ by ~1% of their scale.
    expectInformative(y.data, 2, 10, 10 * RTOL_TORCH);
    const ref = runTorch(model, x, shape, "alexnet");
    expect(ref.descr).toBe("<f4");
    expect(ref.shape).toEqual([2, 10]);
    expectClose(y.data, ref.data as Float32Array, RTOL_TORCH, RTOL_TORCH * 1e-2 * maxAbs(ref.data as Float32Array), "AlexNet ORT-node vs torch");
  });
});

describe("ResNet-18 (BatchNormalization, residual adds, GlobalAveragePool): onnxruntime-node and PyTorch agree", () => {
  test("logits of 2 seeded images within 1e-4 relative", async () => {
    const shape = [2, 1, 96, 96];
    const model = path.join(tmp.dir, "resnet18.onnx");
    snapshotInChild("models/resnet18.ts", 0, model, path.join(tmp.dir, "resnet18.json"));
    const x = randomImages(shape, 96);
    const y = await runOrtNode(model, x, shape);
    expect(y.dims).toEqual([2, 10]);
    expectInformative(y.data, 2, 10, 10 * RTOL_TORCH);
    const ref = runTorch(model, x, shape, "resnet18");
    expectClose(y.data, ref.data as Float32Array, RTOL_TORCH, RTOL_TORCH * 1e-2 * maxAbs(ref.data as Float32Array), "ResNet-18 ORT-node vs torch");
  }, 120_000);
});

describe("LeNet: onnxruntime-node, PyTorch and onnxruntime-web agree", () => {
  const shape = [3, 1, 28, 28];
  let model: string;
  let x: Float32Array;
  let ortY: { data: Float32Array; dims: number[] };
  beforeAll(async () => {
    model = path.join(tmp.dir, "lenet.onnx");
    fs.writeFileSync(model, snapshotModel(lenet, 0).bytes);
    x = randomImages(shape, 7);
    ortY = await runOrtNode(model, x, shape);
  });

  test("logits of 3 seeded images: onnxruntime-node vs PyTorch within 1e-4 relative", () => {
    expect(ortY.dims).toEqual([3, 10]);
    // Sigmoid LeNet at its random init barely looks at its input (rows differ by ~1e-4 of the
    // logits' scale): this comparison mostly checks the weights' path; the next test sharpens them.
    expectInformative(ortY.data, 3, 10, 0);
    const ref = runTorch(model, x, shape, "lenet");
    expect(ref.shape).toEqual([3, 10]);
    expectClose(ortY.data, ref.data as Float32Array, RTOL_TORCH, RTOL_TORCH * 1e-2 * maxAbs(ref.data as Float32Array), "LeNet ORT-node vs torch");
  });

  test("the same graph with weights ×8 (input-sensitive: rows differ by ~2%) also agrees within 1e-4", async () => {
    const sharp = path.join(tmp.dir, "lenet-x8.onnx");
    fs.writeFileSync(sharp, scaleWeights(fs.readFileSync(model), 8));
    const y = await runOrtNode(sharp, x, shape);
    expectInformative(y.data, 3, 10, 10 * RTOL_TORCH);
    const ref = runTorch(sharp, x, shape, "lenet-x8");
    expectClose(y.data, ref.data as Float32Array, RTOL_TORCH, RTOL_TORCH * 1e-2 * maxAbs(ref.data as Float32Array), "LeNet×8 ORT-node vs torch");
  });

  test("onnxruntime-web (WASM) vs onnxruntime-node within 1e-5 relative", () => {
    const web = runOrtWeb(model, x, shape, tmp.dir, "lenet");
    expect(web.dims).toEqual([3, 10]);
    expectClose(web.data, ortY.data, RTOL_WEB, RTOL_WEB * 1e-2 * maxAbs(ortY.data), "LeNet ORT-web vs ORT-node");
  });

  test("the batch dimension is symbolic: one image and five images run on the same file", async () => {
    for (const n of [1, 5]) {
      const s = [n, 1, 28, 28];
      const y = await runOrtNode(model, randomImages(s, n), s);
      expect(y.dims).toEqual([n, 10]);
    }
  });
});

