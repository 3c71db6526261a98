/**
 * One full training step (forward, autodiff backward, optimizer update) of LeNet, AlexNet and a
 * small BatchNorm CNN (with its running statistics)
 * against the PyTorch reference (test/reference/torch_ref.py `step`), on identical weights
 * (initialValues(0, …) with the model's init, as `alexc build --seed 0 --no-training` writes them) and an identical
 * uint8 batch, dropout off. Also: the `.onnx` with training_info passes the ONNX checker and
 * binds every mutable tensor.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import * as path from "path";
import { loadModelFile } from "../src/cli/load-model";
import type { ModelDef } from "../src/graph/dsl";
import { initialValues } from "../src/graph/init";
import { numel } from "../src/graph/types";
import { makeOptimizer } from "../src/train/optim/make";
import { createSession, modelBytes } from "../src/train/session";
import { buildStepGraph, next, STEP_COUNTER } from "../src/train/step";
import { describeResult, REPO_ROOT, runAlexc } from "./helpers/cli";
import { agreement, formatAgreement, maxAbs } from "./helpers/compare";
import type { NpyArray } from "./helpers/npy";
import { makeTmpDir } from "./helpers/tmp";
import { onnxCheck, torchStep } from "./helpers/train-torch";
import { prng } from "./helpers/train-fd";

interface Case {
  readonly model: string;
  readonly batch: number;
  readonly optimizer: "adam" | "adamw" | "sgd";
  readonly lr: number;
  readonly momentum?: number;
  readonly weightDecay?: number;
  readonly labelSmoothing?: number;
  readonly resize: number;
}

const tmp = makeTmpDir("alexc-step-torch");
afterAll(() => tmp.remove());

// The loops over AlexNet's 58 M parameters use plain comparisons: under jest, Math.max and
// Math.abs in a hot loop run ≈ 270 ns per call (50× plain Node), which made this file take 3 min.
const abs = (v: number) => (v < 0 ? -v : v);

function refBuffer(ref: Map<string, NpyArray>, name: string): Float32Array {
  return Float32Array.from((ref.get(`buffer/${name}`)?.data as Float32Array | undefined) ?? []);
}

function divided(a: Float32Array, by: number): Float32Array {
  const out = new Float32Array(a.length);
  for (let i = 0; i < a.length; i++) out[i] = a[i] / by;
  return out;
}

async function compareStep(c: Case): Promise<void> {
  const name = `${path.basename(c.model, ".ts")}-${c.optimizer}${c.weightDecay !== undefined ? `-wd${c.weightDecay}` : ""}${c.labelSmoothing ? `-ls${c.labelSmoothing}` : ""}`;
  const dir = tmp.sub(name);
  const onnxFile = path.join(dir, "model.onnx");
  const built = runAlexc(["build", c.model, "-o", onnxFile, "--seed", "0", "--no-training"], { timeoutMs: 120_000 });
  if (built.status !== 0) throw new Error(describeResult(built));

  const rand = prng(1234);
  const images = Uint8Array.from({ length: c.batch * 28 * 28 }, () => Math.floor(rand() * 256));
  const labels = BigInt64Array.from({ length: c.batch }, () => BigInt(Math.floor(rand() * 10)));

  const def: ModelDef = loadModelFile(path.join(REPO_ROOT, c.model));
  const optimizer = makeOptimizer(c.optimizer, {}, { momentum: c.optimizer === "sgd" ? c.momentum : undefined, weightDecay: c.weightDecay });
  const sg = buildStepGraph(def, { optimizer, labelSmoothing: c.labelSmoothing, mode: "inputs", dropoutSeed: 0, disableDropout: true });
  const values = new Map<string, Float32Array>();
  for (const p of sg.params) values.set(p.name, initialValues(0, p.name, p.dims, p.fanIn, p.fill, def.spec.init));
  const feeds: Record<string, ort.Tensor> = {
    images: new ort.Tensor("uint8", images, [c.batch, 1, 28, 28]),
    labels: new ort.Tensor("int64", labels, [c.batch]),
    lr: new ort.Tensor("float32", Float32Array.of(c.lr), []),
    [STEP_COUNTER]: new ort.Tensor("int64", BigInt64Array.of(0n), []),
  };
  for (const p of sg.params) feeds[p.name] = new ort.Tensor("float32", values.get(p.name)!, p.dims as number[]);
  for (const s of sg.state) feeds[s.name] = new ort.Tensor("float32", new Float32Array(numel(s.dims)), s.dims as number[]);
  for (const s of sg.buffers) feeds[s.name] = new ort.Tensor("float32", new Float32Array(numel(s.dims)).fill(s.fill), s.dims as number[]);
  const session = await createSession(modelBytes(sg.b));
  const out = await session.run(feeds);
  await session.release();

  const ref = torchStep(dir, onnxFile, images, labels, { optimizer: c.optimizer, lr: c.lr, momentum: c.momentum, weightDecay: optimizer.config.weightDecay as number, labelSmoothing: c.labelSmoothing, resize: c.resize });

  const torchLoss = Number(ref.get("loss")!.data[0]);
  const loss = Number(out.loss.data[0]);
  expect(Math.abs(loss - torchLoss)).toBeLessThanOrEqual(1e-4 * Math.abs(torchLoss));
  expect(Number(out.correct.data[0])).toBe(Number(ref.get("correct")!.data[0]));
  expect(Number(out[next(STEP_COUNTER)].data[0])).toBe(1);

  const failures: string[] = [];
  // BatchNorm's running statistics after the step (PyTorch's, in place, momentum 0.1).
  for (const s of sg.buffers) {
    const want = refBuffer(ref, s.name);
    const ours = out[next(s.name)].data as Float32Array;
    const a = agreement(ours, want, 0, 1e-5 * Math.max(1, maxAbs(want)));
    if (!want.length || a.violations > 0) failures.push(`${s.name}: running statistic ${formatAgreement(a)}`);
  }
  const gAll = Math.max(...sg.params.map((p) => maxAbs((ref.get(`grad/${p.name}`)?.data as Float32Array | undefined) ?? [])));
  for (const p of sg.params) {
    const tg = ref.get(`grad/${p.name}`)?.data as Float32Array | undefined;
    const tp = ref.get(`param/${p.name}`)?.data as Float32Array | undefined;
    if (!tg || !tp) {
      failures.push(`${p.name}: missing from the torch reference`);
      continue;
    }
    // Our gradient, recovered from the optimizer state after the first step:
    // Adam and AdamW m₁ = (1 − β₁)·g with β₁ = 0.9 (AdamW's decay leaves g alone);
    // SGD (momentum, no dampening) buffer₁ = g.
    const adamLike = c.optimizer !== "sgd";
    const state = adamLike ? (out[next(`${p.name}.adam_m`)].data as Float32Array) : (out[next(`${p.name}.momentum_buffer`)].data as Float32Array);
    // A plain loop: Float32Array.from with a map function runs ≈ 300 ns per element in V8.
    const g = adamLike ? divided(state, 1 - 0.9) : state;
    // A bias followed by a BatchNorm has no gradient (the batch mean takes it out): both sides
    // hold float noise, measured against the model's largest gradient instead of its own.
    const gMax = Math.max(maxAbs(tg), sg.buffers.length > 0 && maxAbs(tg) < 1e-4 * gAll ? gAll : 0);
    // Every |g − tg| ≤ 1e-4·max|tg|, and nothing non-finite.
    const gAgree = agreement(g, tg, 0, 1e-4 * gMax);
    if (gAgree.violations > 0) failures.push(`${p.name}: gradient max |diff| ${gAgree.maxAbsDiff} > 1e-4 × max|grad| ${gMax} (${formatAgreement(gAgree)})`);

    // Updated parameters. Adam's first step is p − lr·g/(|g| + ε): where |g| is near ε = 1e-8
    // the update swings with g's last digits (both implementations sum in different orders, and
    // the gradients above agree only to 1e-4·max|g|). For |g| ≥ 100ε the update is lr·sign(g) to
    // within 1%, so it is well defined; smaller gradients were compared above and are skipped
    // here. SGD's update lr·g is continuous in g, so every SGD element is compared.
    const np = out[next(p.name)].data as Float32Array;
    const pMax = maxAbs(tp);
    let pErr = 0;
    let worst = -1;
    const floor = Math.max(1e-6, 1e-6 * gMax);
    for (let i = 0; i < np.length; i++) {
      if (adamLike && !(abs(tg[i]) > floor)) continue;
      const e = abs(np[i] - tp[i]);
      if (e > pErr || e !== e) [pErr, worst] = [e, i]; // NaN sticks, and fails the check below
    }
    if (!(pErr <= 1e-4 * pMax)) failures.push(`${p.name}: updated value max |diff| ${pErr} at ${worst} (grad ${tg[worst]} vs ours ${g[worst]}) > 1e-4 × max|value| ${pMax}`);
  }
  expect(failures).toEqual([]);
}

describe("one training step matches PyTorch", () => {
  test("LeNet, batch 8, Adam lr 1e-3", () => compareStep({ model: "models/lenet.ts", batch: 8, optimizer: "adam", lr: 1e-3, resize: 28 }));
  // AdamW: PyTorch's default decay 0.01, and 0.5 with lr 1e-2, where the decay (p·5e-3) is
  // far above the 1e-4·max|p| tolerance, so a missing or coupled decay would fail.
  test("LeNet, batch 8, AdamW lr 1e-3 (weight decay 0.01)", () => compareStep({ model: "models/lenet.ts", batch: 8, optimizer: "adamw", lr: 1e-3, resize: 28 }));
  test("LeNet, batch 8, AdamW lr 1e-2 weight decay 0.5", () =>
    compareStep({ model: "models/lenet.ts", batch: 8, optimizer: "adamw", lr: 1e-2, weightDecay: 0.5, resize: 28 }));
  // Label smoothing: loss and gradients (SGD's buffer is the gradient) against
  // CrossEntropyLoss(label_smoothing=ε), with Adam's update on top for the Adam row.
  test("LeNet, batch 8, SGD lr 1e-2 momentum 0.9, label smoothing 0.1", () =>
    compareStep({ model: "models/lenet.ts", batch: 8, optimizer: "sgd", lr: 1e-2, momentum: 0.9, labelSmoothing: 0.1, resize: 28 }));
  test("LeNet, batch 8, Adam lr 1e-3, label smoothing 0.3", () => compareStep({ model: "models/lenet.ts", batch: 8, optimizer: "adam", lr: 1e-3, labelSmoothing: 0.3, resize: 28 }));
  // BatchNorm (after convs, in a residual block, on features), GlobalAveragePool, a residual add.
  test("BatchNorm CNN (test/fixtures/batchnorm-cnn.ts), batch 8, SGD lr 5e-2 momentum 0.9", () =>
    compareStep({ model: "test/fixtures/batchnorm-cnn.ts", batch: 8, optimizer: "sgd", lr: 5e-2, momentum: 0.9, resize: 28 }));
  // NiN: its 1×1 conv blocks and global average pooling, at d2l's lr.
  test("NiN (224×224), batch 2, SGD lr 0.1 momentum 0.9", () => compareStep({ model: "models/nin.ts", batch: 2, optimizer: "sgd", lr: 0.1, momentum: 0.9, resize: 224 }), 300_000);
  test("LeNet, batch 8, SGD lr 1e-2 momentum 0.9", () =>
    compareStep({ model: "models/lenet.ts", batch: 8, optimizer: "sgd", lr: 1e-2, momentum: 0.9, resize: 28 }));
  // AlexNet: about 2 minutes on 2 cores (the PyTorch reference and 700 MB of parameters,
  // gradients and Adam state crossing between the two processes).
  test("AlexNet (224×224), batch 2, Adam lr 1e-3", () => compareStep({ model: "models/alexnet.ts", batch: 2, optimizer: "adam", lr: 1e-3, resize: 224 }), 400_000);
});

describe("the built training model", () => {
  test("LeNet .onnx with training_info passes onnx_check.py and binds every mutable tensor", async () => {
    const file = path.join(tmp.sub("lenet-train"), "lenet.onnx");
    const built = runAlexc(["build", "models/lenet.ts", "-o", file]);
    if (built.status !== 0) throw new Error(describeResult(built));
    const r = onnxCheck(file);
    if (r.status !== 0) throw new Error(`onnx_check failed:\n${r.stderr}`);
    const info = JSON.parse(r.stdout) as { training_info: { update_binding: Record<string, string> }[] };
    expect(info.training_info.length).toBe(1);
    const bound = Object.keys(info.training_info[0].update_binding).sort();
    const def = loadModelFile(path.join(REPO_ROOT, "models/lenet.ts"));
    // `alexc build` uses the model's default optimizer (LeNet: Adam).
    const sg = buildStepGraph(def, { optimizer: makeOptimizer(def.spec.train?.optimizer ?? "adam", def.spec.train), mode: "bound", dropoutSeed: 0 });
    const expected = [...sg.params.map((p) => p.name), ...sg.state.map((s) => s.name), STEP_COUNTER].sort();
    expect(bound).toEqual(expected);
    for (const [k, v] of Object.entries(info.training_info[0].update_binding)) expect(v).toBe(next(k));
  });
});
