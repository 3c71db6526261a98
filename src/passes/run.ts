/** A pass maps a graph to a graph; a pass list runs in order, each on the previous one's result. */
import type { Graph } from "../graph/ir";

export type Pass = (g: Graph) => Graph;

/** `run` under the name a pass list shows (Function.name), for logs and for tests of a target's list. */
export function named(name: string, run: (g: Graph) => Graph): Pass {
  return Object.defineProperty(run, "name", { value: name });
}

export function runPasses(g: Graph, passes: readonly Pass[]): Graph {
  return passes.reduce((graph, pass) => pass(graph), g);
}
