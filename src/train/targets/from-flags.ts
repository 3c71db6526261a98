/**
 * The one place where `alexc train`'s backend flags (--ep, --threads, --lowering, --nchwc,
 * --winograd, --native) become a target; --steps-per-run is a step option (StepOptions).
 */
import { cpuTarget } from "./cpu";
import { cudaTarget } from "./cuda";
import type { Target, TargetFlags } from "./target";
import { webGpuTarget } from "./webgpu";

/**
 * The target for these flags. The WebGPU provider takes the WebGPU formulation unless
 * `--lowering default`; the others the default one unless `--lowering webgpu`. Flags that do not
 * apply to the provider (--nchwc on a GPU) are recorded but change nothing.
 */
export function targetFromFlags(flags: TargetFlags): Promise<Target> {
  const lowering = flags.lowering ?? (flags.ep === "webgpu" ? "webgpu" : "default");
  const resolved: TargetFlags = { ...flags, lowering };
  const formulation = lowering === "webgpu" ? "webgpu" : "dropout";
  switch (flags.ep) {
    case "cpu":
      return cpuTarget({ threads: flags.threads, nchwc: flags.nchwc, winograd: flags.winograd, native: flags.native, lowering: formulation }, resolved);
    case "webgpu":
      return Promise.resolve(webGpuTarget({ threads: flags.threads, lowering: formulation }, resolved));
    case "cuda":
      return Promise.resolve(cudaTarget({ threads: flags.threads, lowering: formulation }, resolved));
  }
}
