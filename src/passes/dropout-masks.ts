/**
 * Dropout → mask inputs: each training-mode Dropout becomes x · mask / (1 − p) with `mask` a bool
 * graph input `<node>/mask` (webgpu.ts's `lowerDropout`); every other node is copied
 * unchanged. It applies to any step graph whose Dropout ratios are initialisers, and records the
 * masks it added (name, shape, p) on the graph it returns: the trainer draws them from its own
 * generator per (seed, epoch, batch), so a run resumed mid-epoch replays the masks of a straight run.
 */
import type { Graph } from "../graph/ir";
import { lowerDropout, type MaskInput } from "./webgpu";

export interface MaskedGraph extends Graph {
  readonly masks: readonly MaskInput[];
}

export function dropoutMasks(g: Graph): MaskedGraph {
  const { graph, masks } = lowerDropout(g);
  return { ...graph, masks };
}
