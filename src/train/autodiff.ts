/**
 * Reverse-mode autodiff over the graph IR. The driver owns the invariants — reverse
 * topological order, summing fan-in, undoing broadcasts, checking each cotangent's shape
 * against its primal — and asks each op's VJP rule only for the cotangents that are needed.
 * Where a pair rule (op.ts, PairVjp) covers a node and the node computing its input 0, the
 * driver applies it in the consumer's place and, when the cotangent it returned reaches the
 * producer alone, passes it through the producer's rule as its contract allows.
 */
import { GradientError } from "../graph/errors";
import type { GraphBuilder, Node } from "../graph/ir";
import type { GradientOptions, PairVjp } from "../graph/op";
import { lookupOp, lookupPairVjp } from "../graph/ops";
import { formatShape, Shape, Value } from "../graph/types";

/**
 * Emits the gradient of scalar `loss` with respect to each of `wrt` into `b`.
 * Returns the gradient values in the order of `wrt`.
 */
export function gradients(b: GraphBuilder, loss: Value, wrt: readonly Value[], opts: GradientOptions = {}): Value[] {
  if (loss.shape.length !== 0) {
    throw new GradientError(`the loss must be a scalar, got shape ${formatShape(loss.shape)} ('${loss.name}')`);
  }
  const forward = [...b.nodes];
  const { dependsOnParams, leadsToLoss } = onPaths(forward, wrt, loss);

  const pending = new Map<string, Value[]>();
  const add = (primal: Value, g: Value) => {
    const list = pending.get(primal.name) ?? [];
    list.push(g);
    pending.set(primal.name, list);
  };
  const total = (primal: Value): Value | undefined => {
    const list = pending.get(primal.name);
    if (!list || list.length === 0) return undefined;
    let sum = list[0];
    for (let i = 1; i < list.length; i++) sum = b.op1("Add", [sum, list[i]], {}, { name: `grad/${primal.name}/sum` });
    pending.set(primal.name, [sum]);
    return sum;
  };

  // Cotangents a pair rule returned → the producer whose rule they already went through.
  const folded = new Map<string, string>();

  add(loss, b.scalar(1, loss.dtype));
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    if (!node.outputs.some((o) => leadsToLoss.has(o.name) && dependsOnParams.has(o.name))) continue;
    const dOut = node.outputs.map(total);
    if (dOut.every((d) => d === undefined)) continue;
    const def = lookupOp(node.op);
    const nondiff = new Set(def.nondiff ?? []);
    const wanted = node.inputs.map((v, k) => !!v && !nondiff.has(k) && dependsOnParams.has(v.name) && leadsToLoss.has(v.name));
    if (!wanted.some(Boolean)) continue;
    const pair = pairRule(b, node);
    const rule = pair?.rule.vjp ?? def.vjp;
    if (!rule) throw new GradientError(`no gradient rule for ${node.op} '${node.name}'`, node.loc);
    const dIn = folded.get(dOut[0]?.name ?? "") === node.name ? [dOut[0]] : b.scoped(`grad/${node.name}`, () => rule(b, node, dOut, wanted, opts));
    if (pair && dIn[0]) folded.set(dIn[0].name, pair.producer.name);
    node.inputs.forEach((v, k) => {
      const g = dIn[k];
      if (!v || !wanted[k]) return;
      if (!g) throw new Error(`internal: ${node.op} VJP returned no gradient for input ${k} of '${node.name}'`);
      add(v, b.scoped(`grad/${node.name}/unbroadcast${k}`, () => unbroadcast(b, g, v, node)));
    });
  }

  return wrt.map((p) => {
    const g = total(p);
    if (!g) throw new GradientError(`parameter '${p.name}' does not affect the loss`);
    return g;
  });
}

/** The values on a path from a parameter (`dependsOnParams`) and on a path to the loss (`leadsToLoss`). */
function onPaths(forward: readonly Node[], wrt: readonly Value[], loss: Value): { dependsOnParams: Set<string>; leadsToLoss: Set<string> } {
  const dependsOnParams = new Set(wrt.map((v) => v.name));
  for (const node of forward) {
    if (node.inputs.some((v) => v && dependsOnParams.has(v.name))) for (const o of node.outputs) dependsOnParams.add(o.name);
  }
  const leadsToLoss = new Set([loss.name]);
  for (let i = forward.length - 1; i >= 0; i--) {
    const node = forward[i];
    if (node.outputs.some((o) => leadsToLoss.has(o.name))) for (const v of node.inputs) if (v) leadsToLoss.add(v.name);
  }
  return { dependsOnParams, leadsToLoss };
}

/** The pair rule over `node` and the node computing its input 0 (as that node's output 0), if any. */
function pairRule(b: GraphBuilder, node: Node): { rule: PairVjp; producer: Node } | undefined {
  const x = node.inputs[0];
  const producer = x && b.producer(x);
  const rule = producer && producer.outputs[0]?.name === x.name ? lookupPairVjp(producer.op, node.op) : undefined;
  return rule && { rule, producer: producer! };
}

/** Sums a cotangent down to its primal's shape (undoing numpy broadcasting) and checks it. */
function unbroadcast(b: GraphBuilder, g: Value, primal: Value, node: Node): Value {
  let out = g;
  const lead = g.shape.length - primal.shape.length;
  if (lead > 0) out = b.op1("ReduceSum", [out, b.ints(range(lead))], { keepdims: 0 });
  const axes = primal.shape.flatMap((d, i) => (d === 1 && out.shape[i] !== 1 ? [i] : []));
  if (axes.length > 0) out = b.op1("ReduceSum", [out, b.ints(axes)], { keepdims: 1 });
  if (!sameShape(out.shape, primal.shape)) {
    throw new Error(
      `internal: ${node.op} '${node.name}' VJP gave a ${formatShape(out.shape)} gradient for '${primal.name}' ${formatShape(primal.shape)}`,
    );
  }
  return out;
}

function sameShape(a: Shape, b: Shape): boolean {
  return a.length === b.length && a.every((d, i) => d === b[i] || typeof d !== "number" || typeof b[i] !== "number");
}

function range(n: number): number[] {
  return Array.from({ length: n }, (_, i) => i);
}
