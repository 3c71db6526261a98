/**
 * The alexc metadata a built .onnx carries for training (how raw images enter the model, the
 * model's training defaults, the optimizer), read and checked: the file is data from anywhere, so
 * a value that is not the JSON alexc writes is a ModelError naming the file and the key, not a
 * crash later in the trainer.
 */
import type { Preprocess, TrainDefaults } from "../graph/dsl";
import { ModelError } from "../graph/errors";
import { LABEL_SMOOTHING_KEY } from "./loss";
import { OPTIMIZER_KEY } from "./optim/make";

type Metadata = ReadonlyMap<string, string>;

function parsed(meta: Metadata, key: string, file: string): unknown {
  const text = meta.get(key);
  if (text === undefined) return undefined;
  try {
    return JSON.parse(text) as unknown;
  } catch {
    throw new ModelError(`${file}: metadata ${key} is not JSON`);
  }
}

const isObject = (v: unknown): v is Record<string, unknown> => typeof v === "object" && v !== null && !Array.isArray(v);
const positiveInt = (v: unknown) => Number.isSafeInteger(v) && (v as number) > 0;

/** `alexc.preprocess`: raw uint8 images [N, C, H, W] and an optional square resize. */
export function preprocessOf(meta: Metadata, file: string): Preprocess {
  const p = parsed(meta, "alexc.preprocess", file);
  if (p === undefined) throw new ModelError(`${file}: no alexc.preprocess metadata: cannot tell how raw images enter the model`);
  const shape = isObject(p) && isObject(p.raw) ? p.raw.shape : undefined;
  const size = isObject(p) && isObject(p.resize) ? p.resize.size : undefined;
  const resize = isObject(p) ? p.resize : undefined;
  if (!Array.isArray(shape) || shape.length !== 4 || !shape.slice(1).every(positiveInt)) {
    throw new ModelError(`${file}: metadata alexc.preprocess has no raw image shape [N, C, H, W]`);
  }
  if (resize !== null && resize !== undefined && !(Array.isArray(size) && positiveInt(size[0]))) {
    throw new ModelError(`${file}: metadata alexc.preprocess has a resize without a size`);
  }
  return { raw: [shape[1], shape[2], shape[3]], resize: Array.isArray(size) ? (size[0] as number) : undefined };
}

const NUMBERS = ["lr", "momentum", "weightDecay", "labelSmoothing"] as const;

/** `alexc.train_defaults`: the model's training defaults ({} when absent). */
export function trainDefaultsOf(meta: Metadata, file: string): TrainDefaults {
  const d = parsed(meta, "alexc.train_defaults", file) ?? {};
  const fail = (why: string): never => {
    throw new ModelError(`${file}: metadata alexc.train_defaults: ${why}`);
  };
  if (!isObject(d)) return fail("not a JSON object");
  for (const k of ["epochs", "batchSize"]) if (d[k] !== undefined && !positiveInt(d[k])) fail(`${k} is ${JSON.stringify(d[k])}, not a positive integer`);
  for (const k of NUMBERS) if (d[k] !== undefined && !Number.isFinite(d[k])) fail(`${k} is ${JSON.stringify(d[k])}, not a number`);
  if (d.optimizer !== undefined && !["adam", "adamw", "sgd"].includes(d.optimizer as string)) fail(`unknown optimizer ${JSON.stringify(d.optimizer)}`);
  if (d.schedule !== undefined && !(isObject(d.schedule) && typeof d.schedule.kind === "string")) fail("schedule has no kind");
  return d as TrainDefaults;
}

/** AdamW's files say so in `alexc.optimizer` (it keeps Adam's state names); Adam and SGD are told by their state. */
export function optimizerOf(meta: Metadata, mutable: readonly { name: string }[], file: string): string {
  const o = parsed(meta, OPTIMIZER_KEY, file);
  if (o === undefined) return mutable.some((t) => t.name.endsWith(".adam_m")) ? "adam" : "sgd";
  if (!isObject(o) || typeof o.name !== "string") throw new ModelError(`${file}: metadata ${OPTIMIZER_KEY} has no optimizer name`);
  return o.name;
}

/** `alexc.label_smoothing`: ε of the training step's loss (0 when absent). */
export function labelSmoothingOf(meta: Metadata, file: string): number {
  const eps = Number(meta.get(LABEL_SMOOTHING_KEY) ?? 0);
  if (!(eps >= 0 && eps < 1)) throw new ModelError(`${file}: metadata ${LABEL_SMOOTHING_KEY} is ${JSON.stringify(meta.get(LABEL_SMOOTHING_KEY))}, not a number in [0, 1)`);
  return eps;
}
