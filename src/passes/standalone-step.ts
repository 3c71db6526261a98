/**
 * A training_info algorithm → a standalone step (docs/training-graph.md): the initialisers its
 * update_binding names (parameters, optimizer state, step counter) become graph inputs, after the
 * algorithm's own, and leave its initialisers. It applies to the algorithm of a built .onnx
 * (src/emit/import.ts), which reads the main graph's initialisers by name; afterwards the step
 * reads only its own inputs and initialisers, so a session can run it alone.
 */
import type { Graph } from "../graph/ir";
import type { Value } from "../graph/types";

export const standaloneStep =
  (bound: readonly Value[]) =>
  (algorithm: Graph): Graph => {
    const names = new Set(bound.map((v) => v.name));
    return {
      ...algorithm,
      inputs: [...algorithm.inputs, ...bound],
      initializers: algorithm.initializers.filter((t) => !names.has(t.name)),
    };
  };
