/**
 * A lowering pass for onnxruntime's WebGPU provider, which lacks kernels for Dropout,
 * LogSoftmax, OneHot and Loop, and fails at run time on MaxPool's Indices output
 * (architecture §4). Graph → graph, same values under the same names. A generic driver: each
 * op's rewrite is its OpDef's `lowerings.webgpu` entry (graph/lowering.ts), beside its other rules:
 *
 * - Dropout(training) → x · mask / (1 − p) with the mask a graph input `<node>/mask`
 *   (ops/dropout.webgpu.ts);
 * - MaxPool with Indices → MaxPool + the same flat indices as int32 (ops/pool.webgpu.ts);
 * - SoftmaxCrossEntropyLoss → max-shifted log-softmax and a masked sum, OneHot → Equal against a
 *   constant range (ops/softmax.webgpu.ts);
 * - zeros shaped like a float tensor v (ConstantOfShape(Shape(v))) → v · 0, made on the GPU
 *   (ops/layout.webgpu.ts);
 * - the backward's ReLU gates Where(v > 0, a, 0) → a · ⌈clip(v, 0, 1)⌉ (ops/binary.webgpu.ts).
 *
 * Precondition: a standalone graph (no adopted outer values). Postcondition: none of the ops
 * the provider lacks remain (else it throws); every node no entry rewrites is copied unchanged.
 *
 * `lowerDropout` applies the first rewrite alone. The CPU trainer uses it so that dropout masks
 * come from alexc's generator, drawn per (seed, epoch, batch): a run resumed mid-epoch then
 * sees the masks a straight run saw (onnxruntime's Dropout generator restarts with the session).
 */
import type { Graph, Node } from "../graph/ir";
import { GraphBuilder } from "../graph/ir";
import type { LoweringContext, MaskInput } from "../graph/lowering";
import { Attrs, GradientOptions } from "../graph/op";
import { findOp } from "../graph/ops";
import { TensorData, Value } from "../graph/types";

export type { MaskInput } from "../graph/lowering";

/**
 * The gradient formulations the WebGPU step is built with (GradientOptions): each conv weight
 * gradient as one Conv, and max-pooling's scatter zeros as ConstantOfShape(Shape(input)), which
 * this lowering turns into input · 0 on the GPU.
 */
export const WEBGPU_GRADIENTS: GradientOptions = { convWeightGrad: "conv", poolScatterZeros: "input" };

/** Ops the provider has no kernel for: a node of one that no entry rewrites stops the lowering. */
const UNSUPPORTED_ON_WEBGPU = new Set(["Dropout", "LogSoftmax", "OneHot", "Loop", "RandomUniformLike", "SoftmaxCrossEntropyLoss"]);

/** `maxBatch`: the largest batch the lowered graph computes exactly (int32 MaxPool indices). */
export function lowerForWebGpu(g: Graph): { graph: Graph; masks: MaskInput[]; maxBatch: number } {
  const maxBatch = g.nodes.reduce((max, n) => Math.min(max, findOp(n.op)?.lowerings?.webgpu?.maxBatch?.(n) ?? Infinity), Infinity);
  return { ...lower(g, () => true), maxBatch };
}

/** Dropout → x · mask / (1 − p) with the mask a graph input; nothing else changes. */
export function lowerDropout(g: Graph): { graph: Graph; masks: MaskInput[] } {
  return lower(g, (op) => op === "Dropout");
}

/** Rewrites the nodes whose op `applies` by their op's WebGPU entry, where it rewrites them; copies the rest. */
function lower(g: Graph, applies: (op: string) => boolean): { graph: Graph; masks: MaskInput[] } {
  const b = new GraphBuilder(g.name);
  const map = new Map<string, Value>();
  const masks: MaskInput[] = [];
  for (const v of g.inputs) map.set(v.name, b.input(v.name, v.dtype, v.shape));
  for (const t of g.initializers) map.set(t.name, b.initializer(t));
  const ctx = loweringContext(g, b, map, masks);

  for (const n of g.nodes) {
    const ins = n.inputs.map(ctx.value);
    const entry = applies(n.op) ? findOp(n.op)?.lowerings?.webgpu : undefined;
    const outs = entry?.rewrite(ctx, n, ins);
    if (!outs && applies(n.op) && UNSUPPORTED_ON_WEBGPU.has(n.op)) throw new Error(`internal: no WebGPU lowering for ${n.op} '${n.name}'`);
    const lowered = outs ?? b.op(n.op, ins, n.attrs as Attrs & Record<string, never>, { name: n.name, outputNames: n.outputs.map((o) => o.name), loc: n.loc, doc: n.doc });
    lowered.forEach((o, i) => n.outputs[i] && map.set(n.outputs[i].name, o));
  }
  for (const o of g.outputs) b.outputs.push(map.get(o.name)!);
  // Constants only the replaced ops read (dropout ratios, OneHot depths) are dropped.
  const graph = b.build(g.doc);
  const used = new Set(graph.nodes.flatMap((n) => n.inputs.map((v) => v?.name)));
  return { graph: { ...graph, initializers: graph.initializers.filter((t) => used.has(t.name)) }, masks };
}

/** What the entries may ask about `g` while they build into `b`; `map` takes g's values to b's. */
function loweringContext(g: Graph, b: GraphBuilder, map: ReadonlyMap<string, Value>, masks: MaskInput[]): LoweringContext {
  const constants = new Map(g.initializers.map((t) => [t.name, t] as const));
  const producers = new Map(g.nodes.flatMap((n) => n.outputs.map((o) => [o.name, n] as const)));
  const outputs = new Set(g.outputs.map((o) => o.name));
  let readers: Map<string, Node[]> | undefined;
  return {
    b,
    value: (v) => (v ? map.get(v.name)! : undefined),
    constant: (v): TensorData | undefined => (v ? constants.get(v.name) : undefined),
    producer: (v) => (v ? producers.get(v.name) : undefined),
    readers(v) {
      readers ??= readersOf(g);
      return readers.get(v.name) ?? [];
    },
    isOutput: (v) => outputs.has(v.name),
    maskInput(name, shape, p) {
      const mask = b.input(name, "bool", shape);
      masks.push({ name: mask.name, shape, p });
      return mask;
    },
  };
}

function readersOf(g: Graph): Map<string, Node[]> {
  const readers = new Map<string, Node[]>();
  for (const n of g.nodes) {
    for (const v of n.inputs) {
      if (!v) continue;
      const list = readers.get(v.name);
      if (list) list.push(n);
      else readers.set(v.name, [n]);
    }
  }
  return readers;
}
