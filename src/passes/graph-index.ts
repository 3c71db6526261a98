/**
 * What several passes ask of a graph: who produces a value, who reads it, which values are
 * initialisers or graph outputs, a value's static dims, a node's ancestors. Built once per graph
 * (cached: graphs are immutable) instead of by each pass.
 */
import type { Graph, Node } from "../graph/ir";
import type { AttrValue } from "../graph/op";
import type { Value } from "../graph/types";

export interface GraphIndex {
  producer(value: string): Node | undefined;
  /** The nodes that read `value` (in graph order; a node reading it twice is listed twice). */
  consumers(value: string): readonly Node[];
  isInput(value: string): boolean;
  isInitializer(value: string): boolean;
  isOutput(value: string): boolean;
  /** Whether some node holds a subgraph (Loop, If), which may read any value by name. */
  readonly hasSubgraphs: boolean;
  /** Every node whose outputs `node` depends on. */
  ancestors(node: Node): ReadonlySet<Node>;
}

const cache = new WeakMap<Graph, GraphIndex>();

export function indexGraph(g: Graph): GraphIndex {
  const cached = cache.get(g);
  if (cached) return cached;
  const producers = new Map<string, Node>();
  const consumers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const o of n.outputs) producers.set(o.name, n);
    for (const i of n.inputs) if (i) consumers.set(i.name, [...(consumers.get(i.name) ?? []), n]);
  }
  const inputs = new Set(g.inputs.map((v) => v.name));
  const initializers = new Set(g.initializers.map((t) => t.name));
  const outputs = new Set(g.outputs.map((v) => v.name));
  const index: GraphIndex = {
    producer: (v) => producers.get(v),
    consumers: (v) => consumers.get(v) ?? [],
    isInput: (v) => inputs.has(v),
    isInitializer: (v) => initializers.has(v),
    isOutput: (v) => outputs.has(v),
    hasSubgraphs: g.nodes.some((n) => Object.values(n.attrs).some(isGraph)),
    ancestors(node) {
      const seen = new Set<Node>();
      const stack = [node];
      while (stack.length) {
        for (const i of stack.pop()!.inputs) {
          const p = i && producers.get(i.name);
          if (p && !seen.has(p)) {
            seen.add(p);
            stack.push(p);
          }
        }
      }
      return seen;
    },
  };
  cache.set(g, index);
  return index;
}

export function isGraph(a: AttrValue): a is Graph {
  return typeof a === "object" && "nodes" in a;
}

/** A value's dims, with undefined for the symbolic ones. */
export function staticDims(v: Value): (number | undefined)[] {
  return v.shape.map((d) => (typeof d === "number" ? d : undefined));
}

/** Whether a node is the default domain's `op`. */
export function isOnnx(n: Node, op: string): boolean {
  return n.op === op && !n.domain;
}
