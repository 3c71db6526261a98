/**
 * The WebGPU target: the step in its WebGPU formulation (passes/webgpu.ts: no Dropout, OneHot, Loop
 * or MaxPool-indices ops, conv weight gradients as one Conv each) with the parameters and optimizer
 * state resident on the GPU between steps ("gpu-buffer" outputs fed back as inputs), brought to the
 * host at each epoch's end (device-download.ts). The formulation indexes max-pooling in int32, which
 * bounds the batch (checked when the step is built).
 */
import { WEBGPU_GRADIENTS } from "../../passes/webgpu";
import type { Lowering } from "../program";
import { next, STEP_COUNTER } from "../step";
import { multiStep } from "../../passes/multi-step";
import { target, type Target, type TargetFlags } from "./target";

export interface WebGpuOptions {
  readonly threads?: number;
  /** "dropout": the default formulation instead of the WebGPU one (default "webgpu"). */
  readonly lowering?: Lowering;
}

export function webGpuTarget(opts: WebGpuOptions = {}, flags?: TargetFlags): Target {
  const lowering = opts.lowering ?? "webgpu";
  return target({
    ep: "webgpu",
    flags: flags ?? { ep: "webgpu", threads: opts.threads, lowering: lowering === "webgpu" ? "webgpu" : "default" },
    lowering,
    deviceResident: true,
    gradients: () => (lowering === "webgpu" ? WEBGPU_GRADIENTS : {}),
    stepPasses: (_batch, stepsPerRun) => (stepsPerRun > 1 ? [multiStep({ counter: STEP_COUNTER, next })] : []),
    evalPasses: () => [],
    stepSession: (mutable) => ({ ep: "webgpu", threads: opts.threads, keepOnDevice: mutable.map(next), memoryPattern: false, mutable, native: false }),
    evalSession: () => ({ ep: "webgpu", threads: opts.threads }),
    stepNote: () => "",
  });
}
