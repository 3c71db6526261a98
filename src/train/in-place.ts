/**
 * Updates written in place: the step's `<name>.next` outputs go into the very arrays that were fed
 * as `<name>`, as PyTorch's optimizers update their tensors in place. Without it every run hands
 * back a second copy of every parameter and optimizer-state tensor (AlexNet with Adam: 700 MB).
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
 * Applied to the bytes handed to the trainer's CPU session only; the exported step is untouched.
 * A tensor whose readers cannot be ordered (one reads the update itself, the graph has subgraphs,
 * an alias of it is a graph output), or whose update is not an elementwise Add/Sub/Mul/Div of it,
 * is left out and gets a fresh output array as before.
 */
import { decodeModel } from "../emit/decode";
import { encodeModel, tensorProto } from "../emit/encode";
import { onnx } from "../emit/proto";
import { makeTensor } from "../graph/types";

const ALIASING = new Set(["Reshape", "Flatten", "Squeeze", "Unsqueeze", "Identity"]);
const ELEMENTWISE = new Set(["Add", "Sub", "Mul", "Div"]);
const AT = onnx.AttributeProto.AttributeType;
const FLOAT = onnx.TensorProto.DataType.FLOAT;
const INT64 = onnx.TensorProto.DataType.INT64;

export interface InPlacePlan {
  readonly bytes: Uint8Array;
  /** The tensors whose `.next` may be written into their own input array. */
  readonly inPlace: readonly string[];
}

/** Orders every read of each `name` before the write of `next(name)`; names it cannot order are left out. */
export function orderForInPlace(bytes: Uint8Array, names: readonly string[], next: (name: string) => string): InPlacePlan {
  const m = decodeModel(bytes, "step model for in-place updates");
  const g = m.graph as onnx.IGraphProto;
  const nodes = [...(g.node ?? [])];
  if (nodes.some((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0))) return { bytes, inPlace: [] };

  const inputs = new Set((g.input ?? []).map((v) => v.name!));
  const outputs = new Set((g.output ?? []).map((v) => v.name!));
  const producer = new Map<string, onnx.INodeProto>();
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const n of nodes) {
    for (const o of n.output ?? []) producer.set(o, n);
    for (const i of n.input ?? []) if (i) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  }
  const ancestors = (n: onnx.INodeProto): Set<onnx.INodeProto> => {
    const seen = new Set<onnx.INodeProto>();
    const stack = [n];
    while (stack.length) {
      for (const i of stack.pop()!.input ?? []) {
        const p = producer.get(i);
        if (p && !seen.has(p)) {
          seen.add(p);
          stack.push(p);
        }
      }
    }
    return seen;
  };

  const added = new Map<onnx.INodeProto, onnx.INodeProto[]>(); // gate nodes, to go right before their writer
  const initializers: onnx.ITensorProto[] = [];
  const inPlace: string[] = [];
  for (const name of names) {
    const writer = producer.get(next(name));
    // The writer reads its input where it writes (elementwise), so overwriting it as it goes is sound.
    if (!inputs.has(name) || !outputs.has(next(name)) || outputs.has(name) || !writer || !ELEMENTWISE.has(writer.opType!) || writer.domain) continue;
    // Everything that reads `name`'s buffer: its consumers, through the ops that alias it.
    const readers: onnx.INodeProto[] = [];
    let aliasIsOutput = false;
    const frontier = [name];
    while (frontier.length) {
      for (const c of consumers.get(frontier.pop()!) ?? []) {
        if (ALIASING.has(c.opType!) && !c.domain) {
          for (const o of c.output ?? []) {
            if (outputs.has(o)) aliasIsOutput = true;
            frontier.push(o);
          }
        } else readers.push(c);
      }
    }
    if (aliasIsOutput) continue;
    const before = ancestors(writer);
    const unordered = [...new Set(readers)].filter((r) => r !== writer && !before.has(r));
    if (unordered.some((r) => ancestors(r).has(writer))) continue; // a reader needs the update itself
    const gated = writer.input!.findIndex((i) => i && i !== name);
    if (unordered.length > 0 && gated < 0) continue;
    inPlace.push(name);
    if (unordered.length === 0) continue;

    const at = (suffix: string) => `${writer.name || next(name)}/in_place/${suffix}`;
    const gate: onnx.INodeProto[] = [];
    const elements = unordered.map((r, i) => {
      const out = r.output![0];
      gate.push(
        { name: at(`flat${i}`), opType: "Reshape", input: [out, at("minus_one")], output: [at(`flat${i}`)] },
        { name: at(`first${i}`), opType: "Slice", input: [at(`flat${i}`), at("zero"), at("one")], output: [at(`first${i}`)] },
        { name: at(`float${i}`), opType: "Cast", input: [at(`first${i}`)], output: [at(`float${i}`)], attribute: [{ name: "to", type: AT.INT, i: FLOAT }] },
      );
      return at(`float${i}`);
    });
    const sum = elements.length === 1 ? elements[0] : at("sum");
    if (elements.length > 1) gate.push({ name: at("sum"), opType: "Sum", input: elements, output: [sum] });
    const u = writer.input![gated];
    gate.push(
      { name: at("never"), opType: "Greater", input: [sum, sum], output: [at("never")] },
      { name: at("zero_dim"), opType: "Cast", input: [at("never")], output: [at("zero_dim")], attribute: [{ name: "to", type: AT.INT, i: INT64 }] },
      { name: at("shape"), opType: "Shape", input: [u], output: [at("shape")] },
      { name: at("gated_shape"), opType: "Add", input: [at("shape"), at("zero_dim")], output: [at("gated_shape")] },
      { name: at("Reshape"), opType: "Reshape", input: [u, at("gated_shape")], output: [at("u")] },
    );
    initializers.push(
      tensorProto(makeTensor(at("minus_one"), "int64", [1], [-1])),
      tensorProto(makeTensor(at("zero"), "int64", [1], [0])),
      tensorProto(makeTensor(at("one"), "int64", [1], [1])),
    );
    const ins = [...writer.input!];
    ins[gated] = at("u");
    const rewired = { ...writer, input: ins };
    added.set(rewired, gate);
    nodes[nodes.indexOf(writer)] = rewired;
  }
  if (added.size === 0) return { bytes, inPlace };
  const withGates = nodes.flatMap((n) => [...(added.get(n) ?? []), n]);
  const graph = { ...g, node: topologicalOrder(withGates), initializer: [...(g.initializer ?? []), ...initializers] };
  return { bytes: encodeModel({ ...m, graph }), inPlace };
}

/** The nodes in an order where every value is produced before it is read, otherwise as given. */
function topologicalOrder(nodes: onnx.INodeProto[]): onnx.INodeProto[] {
  const producer = new Map<string, number>();
  nodes.forEach((n, i) => (n.output ?? []).forEach((o) => producer.set(o, i)));
  const placed = new Array<boolean>(nodes.length).fill(false);
  const order: onnx.INodeProto[] = [];
  const place = (i: number) => {
    // Iterative depth-first: a node goes in once everything it reads is in.
    const stack: [number, number][] = [[i, 0]];
    while (stack.length) {
      const top = stack[stack.length - 1];
      const [j, k] = top;
      const ins = nodes[j].input ?? [];
      if (k < ins.length) {
        top[1]++;
        const p = producer.get(ins[k]);
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
  return order;
}
