/**
 * The in-graph input pipeline (uint8 → /255 → bilinear 28→224, half-pixel centres) against
 * PyTorch: exactly F.interpolate(bilinear, align_corners=False), and torchvision's
 * Resize(224) + ToTensor() (the seed's pipeline, on PIL images) to within PIL's uint8 rounding.
 */
import "./helpers/train-realm";
import { spawnSync } from "child_process";
import * as path from "path";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../src/graph/ir";
import { modelBytes } from "../src/train/session";
import { preprocess } from "../src/train/preprocess";
import { readNpy, writeNpy } from "./helpers/npy";
import { PYTHON } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const tmp = makeTmpDir("alexc-preprocess");
afterAll(() => tmp.remove());
const REF = path.join(__dirname, "reference", "torch_ref.py");

async function ours(images: Uint8Array, count: number): Promise<Float32Array> {
  const b = new GraphBuilder("preprocess");
  const x = b.input("images", "uint8", ["N", 1, 28, 28]);
  b.output(preprocess(b, x, { raw: [1, 28, 28], resize: 224 }), "pixels");
  const session = await ort.InferenceSession.create(modelBytes(b));
  const out = await session.run({ images: new ort.Tensor("uint8", images, [count, 1, 28, 28]) });
  return out.pixels.data as Float32Array;
}

function reference(images: Uint8Array, count: number, pil: boolean): { status: number | null; data?: Float32Array; stderr: string } {
  const dir = tmp.sub(pil ? "pil" : "interp");
  const input = path.join(dir, "images.npy");
  const output = path.join(dir, "out.npy");
  writeNpy(input, images, [count, 1, 28, 28]);
  const r = spawnSync(PYTHON, [REF, "resize", input, output, "--size", "224", ...(pil ? ["--pil"] : [])], { encoding: "utf8" });
  return { status: r.status, stderr: r.stderr, data: r.status === 0 ? (readNpy(output).data as Float32Array) : undefined };
}

// Real-looking images: smooth gradients plus edges, all 0..255 values present.
const COUNT = 3;
const images = Uint8Array.from({ length: COUNT * 784 }, (_, i) => {
  const [n, r, c] = [Math.floor(i / 784), Math.floor((i % 784) / 28), i % 28];
  return (n * 85 + r * 9 + (c > 14 ? 120 : c * 3)) % 256;
});

test("equals torch.nn.functional.interpolate(bilinear, align_corners=False) of x/255", async () => {
  const got = await ours(images, COUNT);
  const ref = reference(images, COUNT, false);
  if (ref.status !== 0) throw new Error(ref.stderr);
  expect(got.length).toBe(COUNT * 224 * 224);
  let worst = 0;
  for (let i = 0; i < got.length; i++) worst = Math.max(worst, Math.abs(got[i] - ref.data![i]));
  expect(worst).toBeLessThan(1e-6);
});

test("matches torchvision Resize(224) + ToTensor() on PIL images within PIL's uint8 rounding", async () => {
  const got = await ours(images, COUNT);
  const ref = reference(images, COUNT, true);
  if (ref.status === 3) {
    // torchvision missing: .ci/run installs python3-torchvision, so CI always runs this check.
    throw new Error(`torchvision is not installed: ${ref.stderr.trim()}`);
  }
  if (ref.status !== 0) throw new Error(ref.stderr);
  let worst = 0;
  let sum = 0;
  for (let i = 0; i < got.length; i++) {
    const d = Math.abs(got[i] - ref.data![i]);
    worst = Math.max(worst, d);
    sum += d;
  }
  // PIL resizes in uint8 (rounding to the nearest level, fixed-point weights): at most one level off.
  expect(worst).toBeLessThanOrEqual(1 / 255 + 1e-6);
  expect(sum / got.length).toBeLessThan(0.5 / 255);
});
