/**
 * The passes a target runs over a model before onnxruntime opens it, as values a target lists in
 * order. Today each rewrites the encoded ONNX model with the existing byte-level functions; once
 * programs hand out IR graphs, the same lists take the `(Graph) → Graph` passes instead.
 */
import { lowerConvsToNchwc } from "../lower-cpu";
import { lowerConvsToWinograd } from "../lower-winograd";
import { multiStepBytes } from "../multistep";
import { withoutDimNames } from "../unnamed-dims";

/** What the passes of one run rewrote, by pass name (e.g. the convolutions each lowered). */
export type PassCounts = Map<string, number>;

export interface Pass {
  readonly name: string;
  run(model: Uint8Array, counts: PassCounts): Uint8Array;
}

/** The model after every pass of `passes`, in order; `counts` collects what each rewrote. */
export function runPasses(model: Uint8Array, passes: readonly Pass[], counts: PassCounts = new Map()): Uint8Array {
  return passes.reduce((bytes, pass) => pass.run(bytes, counts), model);
}

/** 3×3 and 5×5 convolutions as Winograd's F(m×m, r×r), transforms sized for `batch` (lower-winograd.ts). */
export function winogradConvs(batch: number): Pass {
  return {
    name: "winograd",
    run(model, counts) {
      const { bytes, rewritten } = lowerConvsToWinograd(model, { batch });
      counts.set("winograd", rewritten);
      return bytes;
    },
  };
}

/** The remaining convolutions on onnxruntime's blocked NCHWc kernels of this block size (lower-cpu.ts). */
export function nchwcConvs(blockSize: number): Pass {
  return {
    name: "nchwc",
    run(model, counts) {
      const { bytes, rewritten } = lowerConvsToNchwc(model, blockSize);
      counts.set("nchwc", rewritten);
      return bytes;
    },
  };
}

/** K optimizer steps in one run, as an ONNX Loop over the step (multistep.ts). */
export const multiStep: Pass = { name: "multistep", run: (model) => multiStepBytes(model) };

/** The batch dimension unnamed, so that the CPU session frees each buffer at its last use (unnamed-dims.ts). */
export const unnamedDims: Pass = { name: "unnamed-dims", run: (model) => withoutDimNames(model) };
