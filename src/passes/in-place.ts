/**
 * Ordering for in-place updates: the step's `<name>.next` outputs may go into the very arrays that
 * were fed as `<name>`, as PyTorch's optimizers update their tensors in place, instead of a second
 * copy of every parameter and optimizer-state tensor per run.
 *
 * onnxruntime runs a graph's nodes in one order that respects data dependencies and nothing else,
 * so writing into an input is sound only if every node that reads that input has run before the
 * node that writes its `.next`. The optimizer's own reads come first by construction (they are
 * ancestors of the update); the backward's are not: the dX of a layer reads its weight with no
 * dependency on that weight's update. This pass adds the missing dependencies, reader by reader:
 *
 *   writer(x, u) ⇒ writer(x, Reshape(u, Shape(u) + [r₁ > r₁] + [r₂ > r₂] + …))
 *
 * where rᵢ is one element of reader i's output (x > x is false for every float, NaN included,
 * and onnxruntime cannot fold it: it depends on data). The Reshape keeps u's shape and aliases
 * its buffer in onnxruntime, so the gate costs a few one-element ops per tensor. Readers are
 * found through the ops that alias their input (Reshape, Flatten, Squeeze, Unsqueeze, Identity).
 *
 * It applies to the trainer's CPU step on alexc's own binding (native-session.ts). The graph's
 * values are unchanged; the result records, as `inPlace`, the tensors whose update may be written
 * into their own input. A tensor whose readers cannot be ordered (one reads the update itself, the
 * graph has subgraphs, an alias of it is a graph output), or whose update is not an elementwise
 * Add/Sub/Mul/Div of it, is left out and gets a fresh output array.
 */
import type { Graph, Node } from "../graph/ir";
import { DTYPE_CODE, type Value } from "../graph/types";
import { indexGraph, type GraphIndex } from "./graph-index";
import { finish, startFrom } from "./rewrite";

const ALIASING = new Set(["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"]);
const ELEMENTWISE = new Set(["Add", "Sub", "Mul", "Div"]);

/** A graph ordered for in-place updates, with the tensors it ordered. */
export interface InPlaceGraph extends Graph {
  /** The tensors whose `next(name)` may be written into their own input array. */
  readonly inPlace: readonly string[];
}

/** Orders every read of each of `names` before the write of `next(name)`; names it cannot order are left out. */
export const orderForInPlace =
  (names: readonly string[], next: (name: string) => string) =>
  (g: Graph): InPlaceGraph => {
    const index = indexGraph(g);
    if (index.hasSubgraphs) return { ...g, inPlace: [] };
    const gates = new Map<Node, { readers: Node[]; gated: number }>();
    const inPlace: string[] = [];
    for (const name of names) {
      const plan = planFor(name, next(name), index);
      if (!plan) continue;
      inPlace.push(name);
      if (plan.readers.length > 0) gates.set(plan.writer, plan);
    }
    if (gates.size === 0) return { ...g, inPlace };
    const b = startFrom(g);
    for (const n of g.nodes) {
      const gate = gates.get(n);
      if (!gate) {
        b.keep(n);
        continue;
      }
      const at = (suffix: string) => `${n.name}/in_place/${suffix}`;
      const op = (type: string, inputs: Value[], name: string, attrs: Record<string, number> = {}) =>
        b.op1(type, inputs, attrs, { name: at(name), outputNames: [at(name)] });
      const elements = gate.readers.map((r, i) => {
        const flat = op("Reshape", [r.outputs[0], b.ints([-1])], `flat${i}`);
        const first = op("Slice", [flat, b.ints([0]), b.ints([1])], `first${i}`);
        // A slice of a batch-sized reader has a symbolic length; the gate's shape arithmetic needs [1].
        const one = first.shape[0] === 1 ? first : op("Reshape", [first, b.ints([1])], `one${i}`);
        return op("Cast", [one], `float${i}`, { to: DTYPE_CODE.float32 });
      });
      // Sum (outside alexc's registry) of the readers' one-element tensors.
      const sum =
        elements.length === 1 ? elements[0] : b.external("Sum", elements, { outputs: [{ dtype: "float32", shape: [1] }] }, { name: at("sum"), outputNames: [at("sum")] })[0];
      const u = n.inputs[gate.gated]!;
      const zeroDim = op("Cast", [op("Greater", [sum, sum], "never")], "zero_dim", { to: DTYPE_CODE.int64 });
      const shape = op("Add", [op("Shape", [u], "shape"), zeroDim], "gated_shape");
      const gatedU = b.op1("Reshape", [u, shape], {}, { name: at("Reshape"), outputNames: [at("u")] });
      b.keep(n, n.inputs.map((v, i) => (i === gate.gated ? gatedU : v)));
    }
    return { ...topologicalOrder(finish(b, g)), inPlace };
  };

/** The writer of `nextName` and the readers of `name` to order before it, if the update can be in place. */
function planFor(name: string, nextName: string, index: GraphIndex): { writer: Node; readers: Node[]; gated: number } | undefined {
  const writer = index.producer(nextName);
  // The writer reads its input where it writes (elementwise), so overwriting it as it goes is sound.
  if (!index.isInput(name) || !index.isOutput(nextName) || index.isOutput(name) || !writer || !ELEMENTWISE.has(writer.op) || writer.domain) return undefined;
  // Everything that reads `name`'s buffer: its consumers, through the ops that alias it.
  const readers: Node[] = [];
  const frontier = [name];
  while (frontier.length) {
    for (const c of index.consumers(frontier.pop()!)) {
      if (ALIASING.has(c.op) && !c.domain) {
        for (const o of c.outputs) {
          if (index.isOutput(o.name)) return undefined;
          frontier.push(o.name);
        }
      } else readers.push(c);
    }
  }
  const before = index.ancestors(writer);
  const unordered = [...new Set(readers)].filter((r) => r !== writer && !before.has(r));
  if (unordered.some((r) => index.ancestors(r).has(writer))) return undefined; // a reader needs the update itself
  const gated = writer.inputs.findIndex((i) => i && i.name !== name);
  if (unordered.length > 0 && gated < 0) return undefined;
  return { writer, readers: unordered, gated };
}

/** The graph with its nodes in an order where every value is produced before it is read, otherwise as given. */
function topologicalOrder(g: Graph): Graph {
  const nodes = g.nodes;
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => n.outputs.forEach((o) => producer.set(o.name, i)));
  const placed = new Array<boolean>(nodes.length).fill(false);
  const order: Node[] = [];
  const place = (i: number) => {
    // Iterative depth-first: a node goes in once everything it reads is in.
    const stack: [number, number][] = [[i, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [j, k] = top;
      const ins = nodes[j].inputs;
      if (k < ins.length) {
        top[1]++;
        const p = ins[k] ? producer.get(ins[k]!.name) : undefined;
        if (p !== undefined && !placed[p]) stack.push([p, 0]);
        continue;
      }
      stack.pop();
      if (!placed[j]) {
        placed[j] = true;
        order.push(nodes[j]);
      }
    }
  };
  nodes.forEach((_, i) => place(i));
  return { ...g, nodes: order };
}
