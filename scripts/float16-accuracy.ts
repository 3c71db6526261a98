/**
 * float32 vs float16 inference of one trained model on the FashionMNIST test set, side by side:
 * file sizes, test accuracy, how often the two agree on the top class, the largest logit
 * difference, and the time ratio. Test images go through the same conversion as `alexc predict`
 * (src/infer/image-input.ts: /255, bilinear resize to the model's input).
 *
 *   npx tsx scripts/float16-accuracy.ts runs/alexnet/alexnet.onnx [--limit 10000] [--batch 100]
 */
import * as ort from "onnxruntime-node";
import { readModelFile } from "../src/emit/decode";
import { encodeModel } from "../src/emit/encode";
import { toFloat16 } from "../src/emit/to-float16";
import { imageToInput } from "../src/infer/image-input";
import { loadFashionMnist, resolveDataDir } from "../src/train/data/fashion-mnist";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const file = process.argv[2];
  if (!file || file.startsWith("--")) throw new Error("usage: npx tsx scripts/float16-accuracy.ts MODEL.onnx [--limit N] [--batch B]");
  const limit = Number(arg("limit", "10000"));
  const batch = Number(arg("batch", "100"));
  const m = readModelFile(file);
  const f32 = encodeModel({ ...m, trainingInfo: [] });
  const f16 = encodeModel(toFloat16(m, file));
  const { test } = loadFashionMnist(resolveDataDir(undefined, () => {}), { testLimit: limit, trainLimit: 1 });
  const sessions = { float32: await ort.InferenceSession.create(f32), float16: await ort.InferenceSession.create(f16) };
  const [, c, h, w] = (sessions.float32.inputMetadata[0] as ort.InferenceSession.TensorValueMetadata).shape as number[];
  const per = c * h * w;
  const correct = { float32: 0, float16: 0 };
  const ms = { float32: 0, float16: 0 };
  let agree = 0;
  let maxDiff = 0;
  let maxLogit = 0;
  for (let start = 0; start < test.count; start += batch) {
    const n = Math.min(batch, test.count - start);
    const x = new Float32Array(n * per);
    for (let i = 0; i < n; i++) {
      const img = { width: 28, height: 28, channels: 1 as const, data: test.images.subarray((start + i) * 784, (start + i + 1) * 784) };
      x.set(imageToInput(img, c as 1 | 3, h, w), i * per);
    }
    const logits: Record<string, Float32Array> = {};
    for (const kind of ["float32", "float16"] as const) {
      const s = sessions[kind];
      const t0 = performance.now();
      const out = await s.run({ [s.inputNames[0]]: new ort.Tensor("float32", x, [n, c, h, w]) });
      ms[kind] += performance.now() - t0;
      logits[kind] = out[s.outputNames[0]].data as Float32Array;
    }
    const k = logits.float32.length / n;
    for (let i = 0; i < n; i++) {
      const top = (y: Float32Array) => {
        let best = 0;
        for (let j = 1; j < k; j++) if (y[i * k + j] > y[i * k + best]) best = j;
        return best;
      };
      const a = top(logits.float32);
      const b = top(logits.float16);
      if (a === test.labels[start + i]) correct.float32++;
      if (b === test.labels[start + i]) correct.float16++;
      if (a === b) agree++;
      for (let j = 0; j < k; j++) {
        maxDiff = Math.max(maxDiff, Math.abs(logits.float32[i * k + j] - logits.float16[i * k + j]));
        maxLogit = Math.max(maxLogit, Math.abs(logits.float32[i * k + j]));
      }
    }
  }
  const mb = (b: Uint8Array) => (b.byteLength / 1e6).toFixed(1);
  console.log(`model ${file}, ${test.count} test images, batch ${batch}`);
  console.log(`file size: float32 ${mb(f32)} MB, float16 ${mb(f16)} MB (${(f16.byteLength / f32.byteLength).toFixed(3)}×)`);
  console.log(`test accuracy: float32 ${(correct.float32 / test.count).toFixed(4)}, float16 ${(correct.float16 / test.count).toFixed(4)} (change ${((correct.float16 - correct.float32) / test.count * 100).toFixed(2)} points)`);
  console.log(`same top class: ${agree}/${test.count}; max |logit difference| ${maxDiff.toExponential(2)} (max |logit| ${maxLogit.toFixed(2)})`);
  console.log(`inference time float16/float32 on onnxruntime-node CPU: ${(ms.float16 / ms.float32).toFixed(2)}×`);
}

main().catch((e: unknown) => {
  console.error((e as Error)?.stack ?? String(e));
  process.exit(1);
});
