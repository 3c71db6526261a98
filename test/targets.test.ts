/**
 * The backend flags of `alexc train` map onto one target per execution provider
 * (src/train/targets/from-flags.ts), and each target states its step's formulation, gradient
 * options, pass lists and session options; a provider that is not installed fails with the one
 * ProviderError message the CLI has always printed.
 */
import "./helpers/train-realm";
import type { ModelDef } from "../src/graph/dsl";
import { Rng } from "../src/graph/random";
import { nchwcBlockSize } from "../src/train/nchwc-probe";
import { WEBGPU_GRADIENTS } from "../src/passes/webgpu";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import type { TrainingProgram } from "../src/train/program";
import { ProviderError } from "../src/train/session";
import { cudaTarget } from "../src/train/targets/cuda";
import { targetFromFlags } from "../src/train/targets/from-flags";
import type { Target } from "../src/train/targets/target";
import lenet from "../models/lenet";

const names = (t: Target, batch: number, stepsPerRun: number) => t.stepPasses(batch, stepsPerRun).map((p) => p.name);
const program = programFromModel(lenet as ModelDef, adam(), 0);
const mutable = program.mutable.map((t) => t.name);

describe("targetFromFlags", () => {
  test("--ep cpu: the default formulation, Winograd then NCHWc convolutions, encoded with unnamed dims; the step in place on one step per run", async () => {
    const nchwc = (await nchwcBlockSize()) > 1 ? ["nchwc"] : [];
    const t = await targetFromFlags({ ep: "cpu", threads: 2 });
    expect({ ep: t.ep, lowering: t.lowering, deviceResident: t.deviceResident }).toEqual({ ep: "cpu", lowering: "dropout", deviceResident: false });
    expect(t.flags).toEqual({ ep: "cpu", threads: 2, lowering: "default" });
    expect(names(t, 32, 1)).toEqual(["winograd", ...nchwc]);
    expect(names(t, 32, 4)).toEqual(["winograd", ...nchwc, "multi-step"]);
    expect(t.evalPasses(64).map((p) => p.name)).toEqual(["winograd", ...nchwc]);
    expect(t.gradients(32)).toEqual({ convWeightGrad: "winograd", batch: 32 });
    expect(t.stepSession(mutable, 1)).toEqual({ ep: "cpu", threads: 2, memoryPattern: false, unnamedDims: true, mutable, native: true });
    expect(t.stepSession(mutable, 4).native).toBe(false);
    expect(t.evalSession()).toEqual({ ep: "cpu", threads: 2 });
  });

  test("--no-winograd --no-nchwc --no-native: no convolution passes, the step on onnxruntime-node", async () => {
    const t = await targetFromFlags({ ep: "cpu", winograd: false, nchwc: false, native: false });
    expect(names(t, 32, 1)).toEqual([]);
    expect(t.evalPasses(32)).toEqual([]);
    expect(t.gradients(32)).toEqual({});
    expect(t.stepSession(mutable, 1).native).toBe(false);
    expect(t.stepNote(program.stepGraph(0))).toBe("; convolutions: 0 by Winograd's algorithm, 0 on NCHWc kernels");
  });

  test("--ep cpu --lowering webgpu: the WebGPU formulation checked on the CPU, with the CPU's passes", async () => {
    const t = await targetFromFlags({ ep: "cpu", lowering: "webgpu", nchwc: false });
    expect(t.lowering).toBe("webgpu");
    expect(t.gradients(32)).toEqual(WEBGPU_GRADIENTS);
    expect(names(t, 32, 1)).toEqual(["winograd"]);
  });

  test("--ep webgpu: the WebGPU formulation, state resident on the device, no passes", async () => {
    const t = await targetFromFlags({ ep: "webgpu", nchwc: true, winograd: true, native: true });
    expect({ ep: t.ep, lowering: t.lowering, deviceResident: t.deviceResident }).toEqual({ ep: "webgpu", lowering: "webgpu", deviceResident: true });
    // the flags as given are what a checkpoint records, the CPU's included
    expect(t.flags).toEqual({ ep: "webgpu", lowering: "webgpu", nchwc: true, winograd: true, native: true });
    expect(t.gradients(128)).toEqual(WEBGPU_GRADIENTS);
    expect(names(t, 32, 1)).toEqual([]);
    expect(t.stepSession(["w"], 1)).toEqual({ ep: "webgpu", threads: undefined, keepOnDevice: ["w.next"], memoryPattern: false, mutable: ["w"], native: false });
    expect(t.stepNote(program.stepGraph(0))).toBe("");
    expect((await targetFromFlags({ ep: "webgpu", lowering: "default" })).lowering).toBe("dropout");
  });

  test("--ep cuda: the default formulation with host copies; K steps per run as a Loop", async () => {
    const t = await targetFromFlags({ ep: "cuda" });
    expect({ ep: t.ep, lowering: t.lowering, deviceResident: t.deviceResident }).toEqual({ ep: "cuda", lowering: "dropout", deviceResident: false });
    expect(t.gradients(32)).toEqual({});
    expect(names(t, 32, 1)).toEqual([]);
    expect(names(t, 32, 8)).toEqual(["multi-step"]);
  });
});

describe("a target refuses what it cannot run", () => {
  test("the WebGPU formulation needs the model file, and has no Loop for K steps per run", async () => {
    const t = await targetFromFlags({ ep: "webgpu" });
    const built: TrainingProgram = { ...program, lowerings: ["dropout"] };
    expect(() => t.checkStep(built, { batch: 8 })).toThrow("the WebGPU lowering needs the model file (.ts), not a built .onnx");
    expect(() => t.checkStep(program, { batch: 8, stepsPerRun: 2 })).toThrow("--steps-per-run > 1 uses an ONNX Loop, which the WebGPU provider lacks");
    expect(() => t.checkStep(program, { batch: 8 })).not.toThrow();
  });

  test("a provider that is not installed: ProviderError (exit 7) saying how to install it", async () => {
    const e = await cudaTarget().openEvaluator(program, 8).then(
      () => undefined,
      (err: unknown) => err,
    );
    expect(e).toBeInstanceOf(ProviderError);
    expect((e as ProviderError).exitCode).toBe(7);
    expect((e as Error).message).toMatch(/^--ep cuda: the CUDA execution provider is not installed: run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --dangerously-allow-all-scripts`.*\(onnxruntime said: /);
  });
});

test("the CPU target's step runs one step of LeNet and updates the state in place where alexc's binding is built", async () => {
  const t = await targetFromFlags({ ep: "cpu", threads: 1 });
  const runner = await t.openStep(program, { batch: 4 });
  try {
    expect(await runner.beginEpoch(0)).toMatch(/^step: .*; convolutions: \d+ by Winograd's algorithm, \d+ on NCHWc kernels$/);
    const { tensors } = program.initial();
    const before = new Map([...tensors].map(([n, d]) => [n, d.slice()]));
    const images = new Uint8Array(4 * 28 * 28).map((_, i) => (i * 37) % 256);
    const r = await runner.run(tensors, { images, labels: BigInt64Array.of(1n, 2n, 3n, 4n), steps: 1, size: 4, lr: 1e-3, step: 0, masks: Rng.derive(0, "test") });
    expect(r.losses.length).toBe(1);
    expect(Number.isFinite(r.losses[0])).toBe(true);
    expect([...tensors].some(([n, d]) => d.some((v, i) => v !== before.get(n)![i]))).toBe(true);
    await runner.endEpoch(tensors);
  } finally {
    await runner.release();
  }
}, 60_000);
