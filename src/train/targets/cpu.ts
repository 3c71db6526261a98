/**
 * The CPU target: onnxruntime's CPU provider, with the step and evaluation taking the weights as
 * inputs. Its passes compute 3×3 and 5×5 convolutions by Winograd's algorithm and move the others
 * onto the blocked NCHWc kernels onnxruntime otherwise keeps for constant weights (passes/nchwc.ts);
 * the step's weight gradients take Winograd's form too. The step runs on alexc's own binding with
 * the updates in place (native-session.ts) where it is built and one step runs per session run.
 */
import { cpuPasses } from "../../passes/cpu";
import { multiStep } from "../../passes/multi-step";
import { nchwcConvCount } from "../../passes/nchwc";
import { cpuStepGradients, winogradConvCount } from "../../passes/winograd";
import { WEBGPU_GRADIENTS } from "../../passes/webgpu";
import { nchwcBlockSize } from "../nchwc-probe";
import type { Lowering } from "../program";
import { next, STEP_COUNTER } from "../step";
import { target, type Target, type TargetFlags } from "./target";

export interface CpuOptions {
  /** Intra-op threads (default: every core). */
  readonly threads?: number;
  /** Convolutions on the NCHWc kernels (default true). */
  readonly nchwc?: boolean;
  /** 3×3 and 5×5 convolutions by Winograd's F(m×m, r×r) (default true). */
  readonly winograd?: boolean;
  /** The step on alexc's own binding, updates in place, where it is built (default true). */
  readonly native?: boolean;
  /** "webgpu": the WebGPU formulation of the step run on the CPU, to check it against the default (default "dropout"). */
  readonly lowering?: Lowering;
}

export async function cpuTarget(opts: CpuOptions = {}, flags?: TargetFlags): Promise<Target> {
  const blockSize = (opts.nchwc ?? true) ? await nchwcBlockSize() : 1;
  const winograd = opts.winograd ?? true;
  const lowering = opts.lowering ?? "dropout";
  return target({
    ep: "cpu",
    flags: flags ?? { ep: "cpu", threads: opts.threads, lowering: lowering === "webgpu" ? "webgpu" : "default", nchwc: opts.nchwc ?? true, winograd, native: opts.native ?? true },
    lowering,
    deviceResident: false,
    gradients: (batch) => (lowering === "webgpu" ? WEBGPU_GRADIENTS : cpuStepGradients({ winograd, batch })),
    stepPasses: (batch, stepsPerRun) => [...cpuPasses({ blockSize, winograd, batch }), ...(stepsPerRun > 1 ? [multiStep({ counter: STEP_COUNTER, next })] : [])],
    evalPasses: (batch) => cpuPasses({ blockSize, winograd, batch }),
    // Without onnxruntime's memory pattern the step's intermediates come from its arena one by one,
    // and the second step no longer page-faults in a fresh block; with the batch dimension unnamed
    // no buffer reuse is planned across same-shaped values (emit/session-bytes.ts, docs/performance.md).
    stepSession: (mutable, stepsPerRun) => ({
      ep: "cpu",
      threads: opts.threads,
      memoryPattern: false,
      unnamedDims: true,
      mutable,
      native: stepsPerRun === 1 && (opts.native ?? true),
    }),
    evalSession: () => ({ ep: "cpu", threads: opts.threads }),
    stepNote: (step) => `; convolutions: ${winogradConvCount(step)} by Winograd's algorithm, ${nchwcConvCount(step)} on NCHWc kernels`,
  });
}
