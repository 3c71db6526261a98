/**
 * The pass list for a graph that onnxruntime's CPU provider runs (training step, evaluation):
 * eligible 3×3 and 5×5 convolutions by Winograd's algorithm first (winograd.ts), then the
 * remaining convolutions on the NCHWc kernels (nchwc.ts).
 */
import type { Pass } from "./run";
import { nchwc } from "./nchwc";
import { winograd } from "./winograd";

export interface CpuLowering {
  /** NCHWc block size (nchwcBlockSize()); 1 leaves convolutions on onnxruntime's im2col kernels. */
  readonly blockSize: number;
  /** 3×3 and 5×5 convolutions as Winograd's F(m×m, r×r) first. */
  readonly winograd: boolean;
  /** The batch the session will run at (Winograd's transforms are sized for it). */
  readonly batch?: number;
}

export function cpuPasses(opts: CpuLowering): Pass[] {
  return [...(opts.winograd ? [winograd({ batch: opts.batch })] : []), ...(opts.blockSize > 1 ? [nchwc(opts.blockSize)] : [])];
}
