/**
 * VGG-11 and NiN (models/vgg11.ts, nin.ts) against d2l.ai's PyTorch modules
 * (test/reference/d2l_models.py): each builds with training_info (NiN twice, to the same bytes)
 * and passes the ONNX checker (full_check) and strict shape inference, and its exported weights load into the PyTorch module
 * with strict=True and give alexc's eval-mode logits (float64 on the PyTorch side), and start as
 * d2l's train_ch6 initialises them (Xavier-uniform Conv2d and Linear weights). ResNet-18 has
 * the same checks and a training step in resnet18-torch.test.ts.
 */
import "./helpers/train-realm";
import * as fs from "fs";
import * as ort from "onnxruntime-node";
import * as path from "path";
import { loadModelFile } from "../src/cli/load-model";
import { readModelFile } from "../src/emit/decode";
import { floatValues } from "../src/emit/tensor-data";
import { DEFAULT_DATA_DIR, loadFashionMnist } from "../src/train/data/fashion-mnist";
import { createSession, modelBytes } from "../src/train/session";
import { buildEvalGraph } from "../src/train/step";
import { describeResult, REPO_ROOT, runAlexc } from "./helpers/cli";
import { agreement, formatAgreement, maxAbs } from "./helpers/compare";
import { readNpy } from "./helpers/npy";
import { makeTmpDir } from "./helpers/tmp";
import { ok, onnxCheck, packBatch, runPython } from "./helpers/train-torch";

const D2L = path.join(__dirname, "reference", "d2l_models.py");
const BATCH = 2;
const tmp = makeTmpDir("alexc-d2l-models");
afterAll(() => tmp.remove());

const { test: testSplit } = loadFashionMnist(DEFAULT_DATA_DIR, { trainLimit: 1, testLimit: BATCH });
const labels = BigInt64Array.from(testSplit.labels, (l) => BigInt(l));

function alexc(args: string[]): void {
  const r = runAlexc(args, { timeoutMs: 300_000 });
  if (r.status !== 0) throw new Error(describeResult(r));
}

/** Eval-mode logits of the built file's initialisers through the model file's evaluation graph. */
async function alexcLogits(model: string, onnxFile: string): Promise<Float32Array> {
  const def = loadModelFile(path.join(REPO_ROOT, model));
  const inits = new Map((readModelFile(onnxFile).graph?.initializer ?? []).map((t) => [t.name!, t]));
  const session = await createSession(modelBytes(buildEvalGraph(def)));
  const feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor("uint8", testSplit.images, [BATCH, 1, 28, 28]),
    labels: new ort.Tensor("int64", labels, [BATCH]),
  };
  for (const name of session.inputNames) {
    const t = inits.get(name);
    if (t) feeds[name] = new ort.Tensor("float32", floatValues(t, onnxFile), (t.dims ?? []).map(Number));
  }
  const out = await session.run(feeds);
  await session.release();
  return out.logits.data as Float32Array;
}

async function compare(name: "vgg11" | "nin"): Promise<void> {
  const dir = tmp.sub(name);
  const onnxFile = path.join(dir, `${name}.onnx`);
  const weights = path.join(dir, `${name}.safetensors`);
  alexc(["build", `models/${name}.ts`, "-o", onnxFile, "--seed", "0"]);
  const checked = onnxCheck(onnxFile);
  if (checked.status !== 0) throw new Error(`onnx_check failed:\n${checked.stderr}`);
  if (name === "nin") {
    // Deterministic: the same model and seed give the same bytes (VGG's 172 MB are left out for time).
    const again = path.join(dir, "again.onnx");
    alexc(["build", `models/${name}.ts`, "-o", again, "--seed", "0"]);
    expect(fs.readFileSync(again).equals(fs.readFileSync(onnxFile))).toBe(true);
  }
  alexc(["export-weights", onnxFile, "-o", weights]);
  expectXavierStart(name, weights);
  const out = path.join(dir, "logits.npy");
  ok(runPython([D2L, "logits", weights, packBatch(dir, testSplit.images, labels), out, "--model", name, "--resize", "224"], 300_000), "d2l_models.py logits");
  const ref = readNpy(out).data as Float64Array;
  const a = agreement(await alexcLogits(`models/${name}.ts`, onnxFile), ref, 0, 1e-4 * maxAbs(ref));
  expect(a.violations === 0 ? "agree" : formatAgreement(a)).toBe("agree");
}

interface InitRow {
  readonly name: string;
  readonly count: number;
  readonly xavier_bound?: number;
  readonly default_bound?: number;
  readonly max_abs: number;
  readonly std: number;
}

/**
 * The models start as d2l's train_ch6 leaves them (`init: "xavier"`): every Conv2d and Linear
 * weight uniform within nn.init.xavier_uniform_'s bound for that module (PyTorch's fans), biases
 * within PyTorch's default 1/√fan_in. A uniform draw of n values reaches within a few 1/n of
 * its bound, and its standard deviation is bound/√3.
 */
function expectXavierStart(name: string, weights: string): void {
  const r = runPython([D2L, "init", weights, "--model", name]);
  ok(r, "d2l_models.py init");
  const rows = JSON.parse(r.stdout) as InitRow[];
  expect(rows.length).toBeGreaterThan(0);
  const wrong: string[] = [];
  for (const row of rows) {
    const bound = row.xavier_bound ?? row.default_bound!;
    const near = row.count >= 1000 ? 0.99 : 0.5;
    if (row.max_abs > bound * (1 + 1e-6) || row.max_abs < near * bound) wrong.push(`${row.name}: max |w| ${row.max_abs} against bound ${bound}`);
    if (row.count >= 10_000 && Math.abs(row.std / (bound / Math.sqrt(3)) - 1) > 0.02) wrong.push(`${row.name}: std ${row.std} against ${bound / Math.sqrt(3)}`);
  }
  expect(wrong).toEqual([]);
}

describe("d2l models: ONNX checker, strict load of the exported weights, same logits as PyTorch", () => {
  test("NiN", () => compare("nin"), 300_000);
  test("VGG-11 (channels / 4)", () => compare("vgg11"), 300_000);
});
