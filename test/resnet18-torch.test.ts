/**
 * ResNet-18 (models/resnet18.ts) against d2l.ai's PyTorch ResNet-18 (test/reference/d2l_models.py),
 * in float64 on the PyTorch side: `alexc build` passes the ONNX checker, and `alexc export-weights`
 * gives a state_dict that the PyTorch module loads with strict=True and that gives alexc's
 * eval-mode logits; one training step
 * (SGD with momentum and Adam, a batch of 8 real FashionMNIST images; PyTorch's forward takes its
 * ReLU and max-pool decisions from alexc's, checked to be within float32's error) gives PyTorch's gradients
 * within 1e-4 of each tensor's largest, its updated parameters, BatchNorm's running statistics
 * within 1e-6, num_batches_tracked, and, after the step, its eval-mode logits.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import * as path from "path";
import resnet18 from "../models/resnet18";
import { torchName } from "../src/emit/state-dict";
import { initialValues } from "../src/graph/init";
import { numel } from "../src/graph/types";
import { DEFAULT_DATA_DIR, loadFashionMnist } from "../src/train/data/fashion-mnist";
import { makeOptimizer } from "../src/train/optim/make";
import { createSession, modelBytes } from "../src/train/session";
import { buildEvalGraph, buildStepGraph, next, STEP_COUNTER } from "../src/train/step";
import { describeResult, runAlexc } from "./helpers/cli";
import { agreement, formatAgreement, maxAbs } from "./helpers/compare";
import { type NpyArray, writeNpy } from "./helpers/npy";
import { makeTmpDir } from "./helpers/tmp";
import { ok, onnxCheck, packBatch, runPython, unpackNpz } from "./helpers/train-torch";

const D2L = path.join(__dirname, "reference", "d2l_models.py");
const BATCH = 8;
const tmp = makeTmpDir("alexc-resnet18-torch");
afterAll(() => tmp.remove());

const names = resnet18.spec.torchNames!;
// A ReLU whose float64 input lies closer to 0 than alexc's float32 forward error can gate the
// other way and send that one element's gradient back through everything before it, and so can a
// max-pool window whose two largest inputs are that close; every real batch has such inputs (images
// 0–7: 3 ReLU elements, 18 windows; docs/batchnorm.md, "float32 against float64 on real images").
// PyTorch's float64 training forward therefore takes those decisions from alexc's inputs to them
// (d2l_models.py --gates), after checking those inputs against its own.
const FIRST = 0;
const { train } = loadFashionMnist(DEFAULT_DATA_DIR, { trainLimit: FIRST + BATCH, testLimit: 1 });
const images = train.images.slice(FIRST * 784, (FIRST + BATCH) * 784);
const labels = BigInt64Array.from(train.labels.slice(FIRST, FIRST + BATCH), (l) => BigInt(l));
const imageTensor = () => new ort.Tensor("uint8", images, [BATCH, 1, 28, 28]);

let weights = "";
let onnxFile = "";
beforeAll(() => {
  const dir = tmp.sub("build");
  onnxFile = path.join(dir, "resnet18.onnx");
  weights = path.join(dir, "resnet18.safetensors");
  for (const args of [["build", "models/resnet18.ts", "-o", onnxFile, "--seed", "0", "--optimizer", "sgd"], ["export-weights", onnxFile, "-o", weights]]) {
    const r = runAlexc(args, { timeoutMs: 120_000 });
    if (r.status !== 0) throw new Error(describeResult(r));
  }
}, 240_000);

function torchReference(optimizer: "sgd" | "adam", lr: number, gates: string): Map<string, NpyArray> {
  const dir = tmp.sub(`torch-${optimizer}`);
  const out = path.join(dir, "out.npz");
  const args = [D2L, "step", weights, packBatch(dir, images, labels), out, "--optimizer", optimizer, "--lr", String(lr), "--momentum", "0.9", "--gates", gates];
  ok(runPython(args, 600_000), "d2l_models.py step");
  return unpackNpz(out, path.join(dir, "out"));
}

/** Eval-mode logits of the model's inference graph with these parameters and buffers. */
async function evalLogits(tensors: ReadonlyMap<string, Float32Array>, dims: ReadonlyMap<string, readonly number[]>): Promise<Float32Array> {
  const session = await createSession(modelBytes(buildEvalGraph(resnet18)));
  const feeds: Record<string, ort.Tensor> = { images: imageTensor(), labels: new ort.Tensor("int64", labels, [BATCH]) };
  for (const [name, data] of tensors) feeds[name] = new ort.Tensor("float32", data, [...dims.get(name)!]);
  const out = await session.run(feeds);
  await session.release();
  return out.logits.data as Float32Array;
}

/** The gate file's (and its report's) key for the k-th gated call. */
const key = (k: number) => String(k).padStart(3, "0");

/** Every |a − b| ≤ tol·max|b|, as a failure line or undefined. */
function within(what: string, a: ArrayLike<number>, b: ArrayLike<number>, tol: number, floor = 0): string | undefined {
  const scale = Math.max(maxAbs(b), floor);
  const r = agreement(a, b, 0, tol * scale);
  return r.violations > 0 ? `${what}: ${formatAgreement(r)} > ${tol} × ${scale}` : undefined;
}

async function compareStep(optimizer: "sgd" | "adam", lr: number): Promise<void> {
  const sg = buildStepGraph(resnet18, { optimizer: makeOptimizer(optimizer, {}, { momentum: optimizer === "sgd" ? 0.9 : undefined }), mode: "inputs", dropoutSeed: 0 });
  const start = new Map<string, Float32Array>();
  for (const p of sg.params) start.set(p.name, initialValues(0, p.name, p.dims, p.fanIn, p.fill, resnet18.spec.init));
  for (const p of sg.buffers) start.set(p.name, new Float32Array(numel(p.dims)).fill(p.fill));
  const dims = new Map([...sg.params, ...sg.buffers].map((p) => [p.name, p.dims]));
  const feeds: Record<string, ort.Tensor> = {
    images: imageTensor(),
    labels: new ort.Tensor("int64", labels, [BATCH]),
    lr: new ort.Tensor("float32", Float32Array.of(lr), []),
    [STEP_COUNTER]: new ort.Tensor("int64", BigInt64Array.of(0n), []),
  };
  for (const [name, data] of start) feeds[name] = new ort.Tensor("float32", data, [...dims.get(name)!]);
  for (const s of sg.state) feeds[s.name] = new ort.Tensor("float32", new Float32Array(numel(s.dims)), [...s.dims]);
  const gated = sg.b.nodes.filter((n) => n.op === "Relu" || n.op === "MaxPool");
  // The stem's ReLU and max-pool, and two ReLUs in each of the eight residual blocks.
  expect(gated.map((n) => n.op).join(" ")).toBe(["Relu", "MaxPool", ...Array(16).fill("Relu")].join(" "));
  const gateInputs = gated.map((n) => sg.b.output(n.inputs[0]!));
  const session = await createSession(modelBytes(sg.b));
  const out = await session.run(feeds);
  await session.release();
  const gates = tmp.sub(`gates-${optimizer}`);
  gateInputs.forEach((v, k) => writeNpy(path.join(gates, `${key(k)}-${gated[k].op.toLowerCase()}.npy`), out[v.name].data as Float32Array, out[v.name].dims));
  const ref = torchReference(optimizer, lr, gates);
  const data = (k: string) => ref.get(k)!.data as Float64Array;

  const failures: (string | undefined)[] = [];
  // alexc's inputs to each ReLU and max-pool equal float64's within 1e-5 of their largest: the
  // decisions PyTorch took from them (see FIRST) differ from its own only inside that float32 error.
  const errors = gated.map((_, k) => Number(data(`gate_error/${key(k)}`)[0]));
  errors.forEach((e, k) => {
    if (!(e <= 1e-5)) failures.push(`${gated[k].op} ${k}'s input: ${e} of its largest from float64's`);
  });
  failures.push(within("logits before the step (strict-loaded export)", await evalLogits(start, dims), data("logits_before"), 1e-4));
  expect(Math.abs(Number(out.loss.data[0]) - Number(data("loss")[0]))).toBeLessThan(1e-4 * Number(data("loss")[0]));
  // The largest gradient of the model: conv biases before a BatchNorm have none (the batch mean
  // takes them out), so theirs are float noise on both sides, measured against this.
  const gAll = Math.max(...sg.params.map((p) => maxAbs(data(`grad/${torchName(p.name, names)}`))));
  const after = new Map<string, Float32Array>();
  let [compared, total] = [0, 0];
  for (const p of sg.params) {
    const tn = torchName(p.name, names);
    const g = gradientOf(out, p.name, optimizer);
    const scale = Math.max(maxAbs(data(`grad/${tn}`)), 1e-9 * gAll < maxAbs(data(`grad/${tn}`)) ? 0 : gAll);
    failures.push(within(`grad ${tn}`, g, data(`grad/${tn}`), 1e-4, scale));
    const np = out[next(p.name)].data as Float32Array;
    failures.push(updateMismatch(tn, np, data(`param/${tn}`), data(`grad/${tn}`), optimizer, scale));
    after.set(p.name, withIllDefined(np, data(`param/${tn}`), data(`grad/${tn}`), optimizer, scale));
    compared += data(`grad/${tn}`).filter((g) => wellDefined(optimizer, g, scale)).length;
    total += np.length;
  }
  // Adam's ill-defined updates are a small part (0.6 % of ResNet-18 from a Xavier start, images 0–7).
  if (compared < 0.99 * total) failures.push(`updates compared: only ${compared} of ${total}`);
  for (const p of sg.buffers) {
    const tn = torchName(p.name, names);
    const v = out[next(p.name)].data as Float32Array;
    after.set(p.name, v);
    failures.push(within(`buffer ${tn}`, v, data(`param/${tn}`), 1e-6, 1));
    const counter = tn.replace(/running_(mean|var)$/, "num_batches_tracked");
    expect([counter, Number(data(`param/${counter}`)[0])]).toEqual([counter, Number(out[next(STEP_COUNTER)].data[0])]);
  }
  failures.push(within("eval logits after the step", await evalLogits(after, dims), data("logits_after"), 1e-4));
  expect(failures.filter(Boolean)).toEqual([]);
}

/** The step's gradient, read off the optimizer state after one step: SGD's buffer is g, Adam's m is (1 − β₁)·g. */
function gradientOf(out: ort.InferenceSession.ReturnType, name: string, optimizer: "sgd" | "adam"): Float32Array {
  if (optimizer === "sgd") return out[next(`${name}.momentum_buffer`)].data as Float32Array;
  return (out[next(`${name}.adam_m`)].data as Float32Array).map((v) => v / (1 - 0.9));
}

/** Updated parameters within 1e-4 of their largest, where the update is well defined (below). */
function updateMismatch(name: string, ours: Float32Array, ref: Float64Array, grad: Float64Array, optimizer: string, scale: number): string | undefined {
  const idx = Array.from(ours.keys()).filter((i) => wellDefined(optimizer, grad[i], scale));
  return within(`param ${name}`, idx.map((i) => ours[i]), idx.map((i) => ref[i]), 1e-4);
}

/**
 * Whether the gradient check's tolerance (|Δg| ≤ 1e-4·scale) pins the update within the update
 * check's (1e-4·lr at least). SGD's lr·g: always. Adam's first step lr·g/(|g| + ε) moves by
 * lr·ε·Δg/(|g| + ε)², within 1e-4·lr while (|g| + ε)² ≥ ε·scale; below that (|g| under ≈ 1e-5 in
 * a tensor whose largest gradient is 1e-2, and the float noise of conv biases before a BatchNorm,
 * which have no gradient) it follows the gradient's last digits, which were compared above.
 */
const wellDefined = (optimizer: string, g: number, scale: number) => optimizer === "sgd" || (Math.abs(g) + ADAM_EPS) ** 2 >= ADAM_EPS * scale;
const ADAM_EPS = 1e-8;

/**
 * Our updated values with PyTorch's where Adam's update is not well defined, for the logits after
 * the step: the conv biases before a BatchNorm have no gradient, so Adam moves each by ±lr on the
 * sign of float noise, which the training forward does not see but eval mode (running statistics) does.
 */
function withIllDefined(ours: Float32Array, ref: Float64Array, grad: Float64Array, optimizer: string, scale: number): Float32Array {
  return ours.map((v, i) => (wellDefined(optimizer, grad[i], scale) ? v : ref[i]));
}

describe("ResNet-18 against d2l's PyTorch ResNet-18 (float64)", () => {
  test("the built file (with training_info) passes the ONNX checker and strict shape inference", () => {
    const r = onnxCheck(onnxFile);
    if (r.status !== 0) throw new Error(`onnx_check failed:\n${r.stderr}`);
    const info = JSON.parse(r.stdout) as { training_info: { update_binding: Record<string, string> }[] };
    expect(info.training_info[0].update_binding["b3.0.bn2.running_var"]).toBe("b3.0.bn2.running_var.next");
    // Parameters only, as PyTorch counts them (the running statistics are buffers).
    expect(runAlexc(["inspect", onnxFile]).stdout).toContain("Total params: 11,178,378");
  }, 120_000);
  test("SGD lr 0.05 momentum 0.9, batch 8: export loads strictly; gradients, update, running statistics, logits", () => compareStep("sgd", 0.05), 600_000);
  test("Adam lr 1e-3, batch 8: gradients, update, running statistics, logits", () => compareStep("adam", 1e-3), 600_000);
});
