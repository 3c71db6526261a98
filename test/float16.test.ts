/**
 * float16 inference export: `alexc build --dtype float16` and `alexc export --dtype float16`.
 * - single-value conversion vs numpy's astype(float16) (round to nearest even, subnormals,
 *   overflow, NaN), bit for bit, both directions;
 * - the float16 AlexNet passes python3-onnx's full checker and strict shape inference, is half
 *   the size, keeps a float32 interface, and its logits are float32's within float16 precision;
 * - a trained LeNet exported to float16 classifies the test images as float32 does.
 */
import "./helpers/train-realm"; // first: jest's sandbox must use the main realm's typed arrays (see there)
import * as fs from "fs";
import * as path from "path";
import { float16ToFloat32, float32ToFloat16 } from "../src/emit/float16";
import { loadFashionMnist } from "../src/train/data/fashion-mnist";
import { runAlexc, runAlexcOk } from "./helpers/cli";
import { expectClose, maxAbs, randomImages, runOrtNode } from "./helpers/logits";
import { onnxCheck, python } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const T = 300_000;

let tmp: ReturnType<typeof makeTmpDir>;
beforeAll(() => {
  tmp = makeTmpDir("float16");
});
afterAll(() => tmp.remove());

const alexc = (args: string[]) => runAlexcOk(args, T);

describe("float32 ⇄ float16 values vs numpy", () => {
  test("float32 → float16 bits equal numpy's astype(float16) on edge cases and 20000 values over the whole range", () => {
    const edges = [0, -0, 1, -1, 65504, 65519.99, 65520, 1e6, -1e6, 6.1035156e-5, 6.0e-5, 5.96e-8, 2.98e-8, 2.99e-8, 1e-9, Infinity, -Infinity, NaN, 1.00048828125, 1.00146484375, 0.1, 1 / 3];
    const rng = (s: number) => () => ((s = (s * 1103515245 + 12345) >>> 0), s / 2 ** 32);
    const r = rng(7);
    const values = Float32Array.from([...edges, ...Array.from({ length: 20000 }, () => (r() - 0.5) * 2 ** Math.floor(r() * 44 - 28))]);
    const file = path.join(tmp.dir, "f32.bin");
    fs.writeFileSync(file, Buffer.from(values.buffer));
    const ref = JSON.parse(python("import sys, json, numpy as np; v = np.fromfile(sys.argv[1], '<f4'); print(json.dumps(v.astype(np.float16).view(np.uint16).tolist()))", [file])) as number[];
    const ours = Array.from(values, float32ToFloat16);
    const mismatches = ours.map((h, i) => [values[i], h, ref[i]]).filter(([, h, e]) => h !== e);
    expect(mismatches.slice(0, 5)).toEqual([]);
  });

  test("float16 → float32 equals numpy for all 65536 bit patterns", () => {
    const ref = JSON.parse(python("import json, numpy as np; v = np.arange(65536, dtype=np.uint16).view(np.float16).astype(np.float32); print(json.dumps([None if np.isnan(x) else (str(x) if np.isinf(x) else float(x)) for x in v]))")) as (number | string | null)[];
    for (let h = 0; h < 65536; h++) {
      const v = float16ToFloat32(h);
      const e = typeof ref[h] === "string" ? (ref[h] === "inf" ? Infinity : -Infinity) : ref[h];
      if (e === null) expect(Number.isNaN(v)).toBe(true);
      else if (v !== e) expect([h, v]).toEqual([h, e]);
    }
  });
});

describe("AlexNet --dtype float16", () => {
  test(
    "passes the full checker, is half the size, keeps float32 input/output, and its logits are float32's within 1e-2",
    async () => {
      const f32 = path.join(tmp.dir, "alexnet.onnx");
      const f16 = path.join(tmp.dir, "alexnet-fp16.onnx");
      alexc(["build", "models/alexnet.ts", "--no-training", "-o", f32]);
      alexc(["build", "models/alexnet.ts", "--dtype", "float16", "-o", f16]);
      const ratio = fs.statSync(f16).size / fs.statSync(f32).size;
      expect(ratio).toBeGreaterThan(0.49);
      expect(ratio).toBeLessThan(0.51);
      const check = onnxCheck(f16);
      expect(check.inputs).toEqual({ input: ["N", 1, 224, 224] });
      expect(check.outputs).toEqual({ logits: ["N", 10] });
      expect(check.metadata["alexc.dtype"]).toBe("float16");
      expect(check.training_info).toEqual([]);
      expect(alexc(["inspect", f16]).stdout).toContain("Total params: 58,299,082");
      const shape = [2, 1, 224, 224];
      const x = randomImages(shape, 5);
      const a = await runOrtNode(f32, x, shape);
      const b = await runOrtNode(f16, x, shape);
      expectClose(b.data, a.data, 1e-2, 1e-2 * maxAbs(a.data), "AlexNet float16 vs float32");
    },
    T,
  );

  test("ResNet-18 (BatchNormalization, GlobalAveragePool) in float16: logits within 1e-2 of float32's", async () => {
    const f32 = path.join(tmp.dir, "resnet18.onnx");
    const f16 = path.join(tmp.dir, "resnet18-fp16.onnx");
    alexc(["build", "models/resnet18.ts", "--no-training", "-o", f32]);
    alexc(["build", "models/resnet18.ts", "--dtype", "float16", "-o", f16]);
    const shape = [2, 1, 96, 96];
    const x = randomImages(shape, 6);
    const [a, b] = [await runOrtNode(f32, x, shape), await runOrtNode(f16, x, shape)];
    expectClose(b.data, a.data, 1e-2, 1e-2 * maxAbs(a.data), "ResNet-18 float16 vs float32");
  }, T);

  test("a graph with ops float16 export does not cover is refused with their names (exit 2)", () => {
    const step = path.join(tmp.dir, "lenet-step.onnx");
    alexc(["export-step", "models/lenet.ts", "-o", step]);
    const r = runAlexc(["export", step, "--dtype", "float16", "-o", path.join(tmp.dir, "never.onnx")]);
    expect(r.status).toBe(2);
    expect(r.stderr).toMatch(/^alexc: .*lenet-step\.onnx: cannot convert to float16: ops .*SoftmaxCrossEntropyLoss.* not supported\n$/);
    expect(fs.existsSync(path.join(tmp.dir, "never.onnx"))).toBe(false);
  });
});

test(
  "a trained LeNet exported to float16 classifies 2000 test images as float32 does (≥ 99.5% same top class)",
  async () => {
    const out = tmp.sub("lenet");
    alexc(["train", "models/lenet.ts", "--epochs", "1", "--test-limit", "256", "--out", out]);
    const f16 = path.join(tmp.dir, "lenet-fp16.onnx");
    alexc(["export", path.join(out, "lenet.onnx"), "--dtype", "float16", "-o", f16]);
    const { test: split } = loadFashionMnist("/usr/share/datasets/fashion-mnist", { trainLimit: 1, testLimit: 2000 });
    const x = Float32Array.from(split.images, (v) => v / 255);
    const shape = [split.count, 1, 28, 28];
    const a = await runOrtNode(path.join(out, "lenet.onnx"), x, shape);
    const b = await runOrtNode(f16, x, shape);
    const top = (y: Float32Array, i: number) => y.subarray(i * 10, i * 10 + 10).reduce((best, v, j, row) => (v > row[best] ? j : best), 0);
    let same = 0;
    let correct32 = 0;
    let correct16 = 0;
    for (let i = 0; i < split.count; i++) {
      same += top(a.data, i) === top(b.data, i) ? 1 : 0;
      correct32 += top(a.data, i) === split.labels[i] ? 1 : 0;
      correct16 += top(b.data, i) === split.labels[i] ? 1 : 0;
    }
    expect(same / split.count).toBeGreaterThanOrEqual(0.995);
    expect(Math.abs(correct16 - correct32) / split.count).toBeLessThanOrEqual(0.005);
    expect(correct32 / split.count).toBeGreaterThan(0.6); // it did train
  },
  T,
);
