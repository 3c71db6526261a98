/**
 * Runs an ONNX model on onnxruntime-web's WASM backend — a second runtime, next to
 * onnxruntime-node — and saves the first output as .npy:
 *
 *   node -r tsx/cjs test/helpers/ort-web-run.ts MODEL.onnx INPUT.npy OUT.npy
 *
 * A child process because onnxruntime-web loads its WASM glue with a dynamic import(), which
 * jest's vm sandbox refuses without --experimental-vm-modules.
 */
import * as fs from "fs";
import { readNpy, writeNpy } from "./npy";

async function main(): Promise<void> {
  const [modelFile, inputFile, outFile] = process.argv.slice(2);
  if (!modelFile || !inputFile || !outFile) {
    process.stderr.write("usage: node -r tsx/cjs test/helpers/ort-web-run.ts MODEL.onnx INPUT.npy OUT.npy\n");
    process.exit(2);
  }
  // eslint-disable-next-line @typescript-eslint/no-require-imports
  const ort = require("onnxruntime-web") as typeof import("onnxruntime-web");
  ort.env.wasm.numThreads = 1;
  const session = await ort.InferenceSession.create(fs.readFileSync(modelFile), { executionProviders: ["wasm"] });
  const x = readNpy(inputFile);
  if (x.descr !== "<f4") throw new Error(`input must be float32, got ${x.descr}`);
  const feeds = { [session.inputNames[0]]: new ort.Tensor("float32", x.data as Float32Array, [...x.shape]) };
  const result = await session.run(feeds);
  const y = result[session.outputNames[0]];
  writeNpy(outFile, y.data as Float32Array, y.dims.map(Number));
  await session.release();
}

main().catch((e: unknown) => {
  process.stderr.write(`ort-web-run: ${(e as Error)?.stack ?? String(e)}\n`);
  process.exit(1);
});
