/** A pass maps a graph to a graph; a pass list runs in order, each on the previous one's result. */
import type { Graph } from "../graph/ir";

export type Pass = (g: Graph) => Graph;

export function runPasses(g: Graph, passes: readonly Pass[]): Graph {
  return passes.reduce((graph, pass) => pass(graph), g);
}
