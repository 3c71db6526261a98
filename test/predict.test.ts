/**
 * `alexc predict` and what it stands on, against independent references:
 * - the PNG decoder vs Pillow on files of every colour type (grey, RGB, RGBA, palette, 1-bit,
 *   16-bit), interlaced and using all five scanline filters (test/reference/png_cases.py);
 * - the conversion and resize vs Pillow's convert("L").resize(BILINEAR) (torchvision Resize on
 *   PIL images), up (28 → 224) and down (100×90 → 28);
 * - the printed probabilities vs softmax of onnxruntime-node's logits on the training
 *   preprocessing's input (for AlexNet: test/reference/torch_ref.py's PyTorch resize 28 → 224);
 * - bad input: a file that is not a PNG, a damaged PNG, a missing file, a model without an
 *   image input.
 */
import "./helpers/train-realm"; // first: jest's sandbox must use the main realm's typed arrays (see there)
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { imageToInput, toPlanes } from "../src/infer/image-input";
import { decodePng } from "../src/infer/png";
import { REPO_ROOT, runAlexc, runAlexcOk } from "./helpers/cli";
import { runOrtNode } from "./helpers/logits";
import { readNpy, writeNpy } from "./helpers/npy";
import { PYTHON } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const T = 300_000;
const REF = path.join(REPO_ROOT, "test", "reference");

interface Case {
  name: string;
  label: number;
  mode: string;
  size: [number, number];
  colour: boolean;
}

let tmp: ReturnType<typeof makeTmpDir>;
let cases: Case[];
const png = (name: string) => path.join(tmp.dir, `${name}.png`);
const ref = (name: string, kind: string) => readNpy(path.join(tmp.dir, `${name}.${kind}.npy`));

beforeAll(() => {
  tmp = makeTmpDir("predict");
  const r = spawnSync(PYTHON, [path.join(REF, "png_cases.py"), tmp.dir], { encoding: "utf8", timeout: T });
  if (r.status !== 0) throw new Error(`png_cases.py exited ${r.status}:\n${r.stderr}`);
  cases = JSON.parse(r.stdout) as Case[];
});
afterAll(() => tmp.remove());

const alexc = (args: string[]) => runAlexcOk(args, T);

function softmax(row: ArrayLike<number>): number[] {
  const m = Math.max(...Array.from(row));
  const e = Array.from(row, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

describe("PNG decoding and conversion vs Pillow", () => {
  test("the cases cover every colour type, 1/8/16-bit, interlacing and all filters", () => {
    expect(cases.map((c) => c.mode).sort()).toEqual(["1", "I", "L", "L", "L", "L", "L", "P", "RGB", "RGB", "RGBA", "RGBA"]);
  });

  test("grey conversion equals Pillow's convert('L') exactly (16-bit: the 8-bit source)", () => {
    for (const c of cases) {
      const img = decodePng(fs.readFileSync(png(c.name)), c.name);
      expect([c.name, img.width, img.height]).toEqual([c.name, ...c.size]);
      const L = ref(c.name, "L");
      const ours = Array.from(toPlanes(img, 1), (v) => Math.round(v * 255));
      expect({ name: c.name, pixels: ours }).toEqual({ name: c.name, pixels: Array.from(L.data as Uint8Array) });
    }
  });

  test("colour conversion equals Pillow's convert('RGB') exactly", () => {
    for (const c of cases.filter((k) => k.colour)) {
      const img = decodePng(fs.readFileSync(png(c.name)), c.name);
      const planes = toPlanes(img, 3);
      const n = img.width * img.height;
      const interleaved = Array.from({ length: 3 * n }, (_, i) => Math.round(planes[(i % 3) * n + Math.floor(i / 3)] * 255));
      expect({ name: c.name, pixels: interleaved }).toEqual({ name: c.name, pixels: Array.from(ref(c.name, "RGB").data as Uint8Array) });
    }
  });

  test("resize to 28 and 224 agrees with Pillow's BILINEAR (which rounds to 8 bits) within 1/255", () => {
    for (const c of cases) {
      const img = decodePng(fs.readFileSync(png(c.name)), c.name);
      for (const size of [28, 224]) {
        const ours = imageToInput(img, 1, size, size);
        const pil = ref(c.name, `r${size}`).data as Float32Array;
        let worst = 0;
        for (let i = 0; i < pil.length; i++) worst = Math.max(worst, Math.abs(ours[i] - pil[i]));
        expect({ name: c.name, size, within: worst <= 1 / 255 + 1e-6 }).toEqual({ name: c.name, size, within: true });
      }
    }
  });
});

describe("alexc predict", () => {
  let lenet: string;
  beforeAll(() => {
    const out = tmp.sub("lenet");
    alexc(["train", "models/lenet.ts", "--epochs", "1", "--train-limit", "4096", "--test-limit", "256", "--out", out]);
    lenet = path.join(out, "lenet.onnx");
  }, T);

  test(
    "LeNet (trained): --json probabilities are the softmax of the model's logits on the image / 255, top-k sorted",
    async () => {
      const grey = cases.filter((c) => c.name.startsWith("grey") && c.mode === "L");
      const r = alexc(["predict", lenet, ...grey.map((c) => png(c.name)), "--json", "--top", "10"]);
      const results = JSON.parse(r.stdout) as { file: string; top: { index: number; label: string; probability: number }[] }[];
      expect(results.map((x) => x.file)).toEqual(grey.map((c) => png(c.name)));
      const x = new Float32Array(grey.length * 784);
      grey.forEach((c, i) => x.set(Array.from(ref(c.name, "L").data as Uint8Array, (v) => v / 255), i * 784));
      const y = await runOrtNode(lenet, x, [grey.length, 1, 28, 28]);
      const classes = ["T-shirt/top", "Trouser", "Pullover", "Dress", "Coat", "Sandal", "Shirt", "Sneaker", "Bag", "Ankle boot"];
      results.forEach((res, i) => {
        const p = softmax(y.data.subarray(i * 10, (i + 1) * 10));
        expect(res.top).toHaveLength(10);
        for (let k = 0; k < 10; k++) {
          expect(res.top[k].label).toBe(classes[res.top[k].index]);
          expect(Math.abs(res.top[k].probability - p[res.top[k].index])).toBeLessThan(1e-6);
          if (k > 0) expect(res.top[k].probability).toBeLessThanOrEqual(res.top[k - 1].probability);
        }
      });
    },
    T,
  );

  test(
    "AlexNet: a 28×28 image goes through the training resize (PyTorch reference, 28 → 224) and the text output shows top-3",
    async () => {
      const model = path.join(tmp.dir, "alexnet.onnx");
      alexc(["build", "models/alexnet.ts", "--no-training", "--seed", "2", "-o", model]);
      const names = ["grey0", "grey1"];
      const r = alexc(["predict", model, ...names.map(png), "--json"]);
      const results = JSON.parse(r.stdout) as { top: { index: number; probability: number }[] }[];
      // the reference input: torch_ref.py resize (x/255, F.interpolate bilinear, half-pixel), as the training graph does
      const raw = new Uint8Array(names.length * 784);
      names.forEach((n, i) => raw.set(ref(n, "L").data as Uint8Array, i * 784));
      const rawFile = path.join(tmp.dir, "raw.npy");
      const resized = path.join(tmp.dir, "resized.npy");
      writeNpy(rawFile, raw, [names.length, 1, 28, 28]);
      const t = spawnSync(PYTHON, [path.join(REF, "torch_ref.py"), "resize", rawFile, resized, "--size", "224"], { encoding: "utf8", timeout: T });
      if (t.status !== 0) throw new Error(t.stderr);
      const y = await runOrtNode(model, readNpy(resized).data as Float32Array, [names.length, 1, 224, 224]);
      results.forEach((res, i) => {
        const p = softmax(y.data.subarray(i * 10, (i + 1) * 10));
        expect(res.top).toHaveLength(3);
        for (const t3 of res.top) expect(Math.abs(t3.probability - p[t3.index])).toBeLessThan(1e-5);
      });
      const text = alexc(["predict", model, png("rgb-100x90")]);
      const lines = text.stdout.trimEnd().split("\n");
      expect(lines[0]).toBe(png("rgb-100x90"));
      expect(lines).toHaveLength(4);
      for (const l of lines.slice(1)) expect(l).toMatch(/^ +\d+\.\d% {2}\S/);
    },
    T,
  );

  test("bad input: not a PNG, a damaged PNG, a missing file, a model without an image input", () => {
    const text = path.join(tmp.dir, "notes.png");
    fs.writeFileSync(text, "just some text, not an image\n");
    const notPng = runAlexc(["predict", lenet, png("grey0"), text]);
    expect(notPng.status).toBe(5);
    expect(notPng.stderr).toBe(`alexc: ${text}: not a PNG file (no PNG signature)\n`);
    expect(notPng.stdout).toBe("");

    const good = fs.readFileSync(png("grey1"));
    const damaged = Buffer.from(good);
    damaged[damaged.length - 20] ^= 0xff; // inside the IDAT chunk
    const bad = path.join(tmp.dir, "damaged.png");
    fs.writeFileSync(bad, damaged);
    const crc = runAlexc(["predict", lenet, bad]);
    expect(crc.status).toBe(5);
    expect(crc.stderr).toMatch(new RegExp(`^alexc: ${bad}: corrupt I[A-Z]{3} chunk \\(CRC mismatch\\)\\n$`));

    const cut = path.join(tmp.dir, "cut.png");
    fs.writeFileSync(cut, good.subarray(0, 60));
    const truncated = runAlexc(["predict", lenet, cut]);
    expect(truncated.status).toBe(5);
    expect(truncated.stderr).toContain(`${cut}: truncated`);

    const missing = runAlexc(["predict", lenet, path.join(tmp.dir, "nope.png")]);
    expect(missing.status).toBe(4);
    expect(missing.stderr).toContain("nope.png: no such file");

    const flat = path.join(tmp.dir, "flat.onnx");
    const made = spawnSync(PYTHON, ["-c", `
import sys, numpy as np, onnx
from onnx import helper, numpy_helper, TensorProto
w = numpy_helper.from_array(np.zeros((784, 10), np.float32), "w")
g = helper.make_graph([helper.make_node("MatMul", ["x", "w"], ["y"])], "flat",
    [helper.make_tensor_value_info("x", TensorProto.FLOAT, ["N", 784])], [helper.make_tensor_value_info("y", TensorProto.FLOAT, ["N", 10])], [w])
onnx.save(helper.make_model(g, opset_imports=[helper.make_opsetid("", 17)], ir_version=8), sys.argv[1])
`, flat], { encoding: "utf8" });
    expect(made.status).toBe(0);
    const wrongModel = runAlexc(["predict", flat, png("grey0")]);
    expect(wrongModel.status).toBe(2);
    expect(wrongModel.stderr).toBe(
      `alexc: ${flat}: input 'x' is float32 [N,784]; alexc predict needs one image input float32 [N, C, H, W] with C = 1 or 3 and known H, W\n`,
    );
    const notModel = runAlexc(["predict", text, png("grey0")]);
    expect(notModel.status).not.toBe(0);
    expect(notModel.stderr.trim().split("\n")).toHaveLength(1);
    expect(notModel.stderr).toContain(text);
  });
});
