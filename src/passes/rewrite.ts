/**
 * The frame of a node-by-node pass: a builder that starts with the graph's inputs and initialisers,
 * visits its nodes in order (each either rewritten by the pass or kept as it is) and ends with the
 * same outputs. Kept nodes keep their names, types and order, so a pass that rewrites nothing
 * returns an equal graph.
 */
import { GraphBuilder, type Graph, type Node } from "../graph/ir";

/** `rewrite` adds a node's replacement to `b` and returns true, or returns false to keep it. */
export function rewriteNodes(g: Graph, rewrite: (b: GraphBuilder, n: Node) => boolean): Graph {
  const b = startFrom(g);
  for (const n of g.nodes) if (!rewrite(b, n)) b.keep(n);
  return finish(b, g);
}

/** A builder holding `g`'s inputs and initialisers, no nodes. */
export function startFrom(g: Graph): GraphBuilder {
  const b = new GraphBuilder(g.name);
  for (const t of g.initializers) b.initializer(t);
  // An input that is also an initialiser (a default the caller may override) is declared once.
  for (const v of g.inputs) b.value(v.name) ? b.inputs.push(b.value(v.name)!) : b.input(v.name, v.dtype, v.shape);
  return b;
}

/** The graph built so far, with `g`'s outputs (by name). */
export function finish(b: GraphBuilder, g: Graph): Graph {
  for (const o of g.outputs) b.outputs.push(b.value(o.name) ?? o);
  return b.build(g.doc);
}
