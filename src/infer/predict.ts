/**
 * Classifies image files with a built or trained model: decode each PNG, convert it as training
 * does (image-input.ts), run the inference graph on onnxruntime-node in one batch, and return
 * the top-k classes by softmax probability. Labels come from the model's `alexc.classes`
 * metadata (class indices where it has none).
 */
import * as ort from "onnxruntime-node";
import { ModelError } from "../graph/errors";
import { decodeModel } from "../emit/decode";
import { readInputFile } from "../emit/read-input";
import { decodePng } from "./png";
import { imageToInput } from "./image-input";

export interface Prediction {
  readonly file: string;
  readonly top: { readonly index: number; readonly label: string; readonly probability: number }[];
}

export interface ImageModel {
  readonly session: ort.InferenceSession;
  readonly input: string;
  readonly output: string;
  readonly channels: 1 | 3;
  readonly height: number;
  readonly width: number;
  readonly labels: readonly string[] | undefined;
}

/** Opens a classifier whose input is an image batch float32 [N, C, H, W] (C 1 or 3) and whose output is [N, classes]. */
export async function openImageModel(file: string, threads?: number): Promise<ImageModel> {
  const bytes = readInputFile(file);
  // Decoded and checked by alexc first (decode.ts), so that onnxruntime's parser only sees files
  // that are ONNX models with consistent tensors.
  const meta = new Map((decodeModel(bytes, file).metadataProps ?? []).map((p) => [p.key ?? "", p.value ?? ""]));
  let session: ort.InferenceSession;
  try {
    session = await ort.InferenceSession.create(bytes, threads ? { intraOpNumThreads: threads } : {});
  } catch (e) {
    throw new ModelError(`${file}: onnxruntime cannot load it: ${(e as Error).message.split("\n")[0]}`);
  }
  const [inMeta] = session.inputMetadata;
  const describe = (m: ort.InferenceSession.ValueMetadata) => (m.isTensor ? `${m.type} [${m.shape.join(",")}]` : "not a tensor");
  const shape = inMeta?.isTensor ? inMeta.shape : [];
  const [, c, h, w] = shape;
  if (session.inputNames.length !== 1 || !inMeta?.isTensor || inMeta.type !== "float32" || shape.length !== 4 || (c !== 1 && c !== 3) || typeof h !== "number" || typeof w !== "number") {
    throw new ModelError(
      `${file}: input '${session.inputNames.join("', '")}' is ${inMeta ? describe(inMeta) : "missing"}; ` +
        "alexc predict needs one image input float32 [N, C, H, W] with C = 1 or 3 and known H, W",
    );
  }
  const outMeta = session.outputMetadata[0];
  if (!outMeta?.isTensor || outMeta.shape.length !== 2) {
    throw new ModelError(`${file}: output '${session.outputNames[0]}' is ${outMeta ? describe(outMeta) : "missing"}; alexc predict needs class scores [N, classes]`);
  }
  let labels: string[] | undefined;
  const classes = meta.get("alexc.classes");
  if (classes) {
    try {
      labels = JSON.parse(classes) as string[];
    } catch {
      throw new ModelError(`${file}: metadata alexc.classes is not a JSON list`);
    }
  }
  return { session, input: session.inputNames[0], output: session.outputNames[0], channels: c, height: h, width: w, labels };
}

/** Softmax of one row of logits (max-shifted). */
function softmax(row: Float32Array): Float64Array {
  const m = row.reduce((a, b) => Math.max(a, b), -Infinity);
  const e = Float64Array.from(row, (v) => Math.exp(v - m));
  const s = e.reduce((a, b) => a + b, 0);
  return e.map((v) => v / s);
}

export async function predict(model: ImageModel, files: readonly string[], k: number): Promise<Prediction[]> {
  const per = model.channels * model.height * model.width;
  const batch = new Float32Array(files.length * per);
  files.forEach((f, i) => batch.set(imageToInput(decodePng(readInputFile(f), f), model.channels, model.height, model.width), i * per));
  const result = await model.session.run({ [model.input]: new ort.Tensor("float32", batch, [files.length, model.channels, model.height, model.width]) });
  const logits = result[model.output];
  const classes = Number(logits.dims[1]);
  const data = logits.data as Float32Array;
  return files.map((file, i) => {
    const p = softmax(data.subarray(i * classes, (i + 1) * classes));
    const order = [...p.keys()].sort((a, b) => p[b] - p[a] || a - b).slice(0, k);
    return { file, top: order.map((index) => ({ index, label: model.labels?.[index] ?? String(index), probability: p[index] })) };
  });
}
