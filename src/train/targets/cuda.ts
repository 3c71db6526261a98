/**
 * The CUDA target: the default step formulation on onnxruntime's CUDA provider, with host copies of
 * the parameters and state after each run; K steps per run (an ONNX Loop) keep them on the device
 * for K steps. Needs onnxruntime's CUDA libraries, an opt-in install (session.ts says how).
 */
import { WEBGPU_GRADIENTS } from "../../passes/webgpu";
import type { Lowering } from "../program";
import { next, STEP_COUNTER } from "../step";
import { multiStep } from "../../passes/multi-step";
import { target, type Target, type TargetFlags } from "./target";

export interface CudaOptions {
  readonly threads?: number;
  /** "webgpu": the WebGPU formulation instead of the default one (default "dropout"). */
  readonly lowering?: Lowering;
}

export function cudaTarget(opts: CudaOptions = {}, flags?: TargetFlags): Target {
  const lowering = opts.lowering ?? "dropout";
  return target({
    ep: "cuda",
    flags: flags ?? { ep: "cuda", threads: opts.threads, lowering: lowering === "webgpu" ? "webgpu" : "default" },
    lowering,
    deviceResident: false,
    gradients: () => (lowering === "webgpu" ? WEBGPU_GRADIENTS : {}),
    stepPasses: (_batch, stepsPerRun) => (stepsPerRun > 1 ? [multiStep({ counter: STEP_COUNTER, next })] : []),
    evalPasses: () => [],
    stepSession: (mutable) => ({ ep: "cuda", threads: opts.threads, memoryPattern: false, mutable, native: false }),
    evalSession: () => ({ ep: "cuda", threads: opts.threads }),
    stepNote: () => "",
  });
}
