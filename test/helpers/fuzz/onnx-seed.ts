/** The ONNX reader's seed: test/fixtures/tiny-cnn.ts built in process, as `alexc build` writes it (a training file with sparse optimizer state). */
import * as path from "path";
import { loadModelFile } from "../../../src/cli/load-model";
import { compileModel } from "../../../src/emit/compile";
import { encodeModel } from "../../../src/emit/encode";
import { lossMetadata } from "../../../src/train/loss";
import { makeOptimizer, optimizerMetadata } from "../../../src/train/optim/make";
import { trainingInfo } from "../../../src/train/training-info";

export const TINY_CNN = path.resolve(__dirname, "..", "..", "fixtures", "tiny-cnn.ts");

export function tinyCnnOnnx(): Uint8Array {
  const def = loadModelFile(TINY_CNN);
  const optimizer = makeOptimizer("adam", def.spec.train);
  return encodeModel(
    compileModel(def, {
      seed: 0,
      trainingInfo: (d, seed) => trainingInfo(d, optimizer, seed, undefined, 0),
      metadata: { ...optimizerMetadata(optimizer), ...lossMetadata(0) },
    }),
  );
}
