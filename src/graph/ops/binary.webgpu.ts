/**
 * The ReLU gates of the backward for the WebGPU provider: Where(v > 0, a, 0) → a · ⌈clip(v, 0, 1)⌉,
 * for gates Greater(v, 0) on tensors of rank ≥ 4 that only such Wheres read. The provider has no
 * bool Transpose, and its NHWC layout pass moves transposes onto such gates; as floats (the same
 * value for finite a) they stay on the GPU. The Greater is dropped, its Where readers rewritten.
 */
import type { Node } from "../ir";
import type { LoweringContext, ProviderLowering } from "../lowering";
import type { Value } from "../types";

export const greaterForWebGpu: ProviderLowering = {
  rewrite: (ctx, n) => (isFloatGate(ctx, n) ? [] : undefined),
};

export const whereForWebGpu: ProviderLowering = {
  rewrite(ctx, n, ins) {
    const gate = ctx.producer(n.inputs[0]);
    if (!gate || !isFloatGate(ctx, gate)) return undefined;
    const { b } = ctx;
    const v = ctx.value(gate.inputs[0])!;
    const float = b.op1("Ceil", [b.op1("Clip", [v, b.scalar(0, v.dtype), b.scalar(1, v.dtype)])], {}, { name: `${n.name}/webgpu/gate` });
    return [b.op1("Mul", [ins[1]!, float], {}, { name: n.name, outputNames: [n.outputs[0].name] })];
  },
};

/** Whether `n` is Greater(v, 0) on rank ≥ 4, read only as Where(gate, a, 0) and not a graph output. */
function isFloatGate(ctx: LoweringContext, n: Node): boolean {
  if (n.op !== "Greater" || n.outputs[0].shape.length < 4 || !isZero(ctx, n.inputs[1])) return false;
  const gate = n.outputs[0];
  const readers = ctx.readers(gate);
  const gatedWhere = (r: Node) => r.op === "Where" && r.inputs[0]?.name === gate.name && isZero(ctx, r.inputs[2]);
  return readers.length > 0 && readers.every(gatedWhere) && !ctx.isOutput(gate);
}

function isZero(ctx: LoweringContext, v: Value | undefined): boolean {
  const t = ctx.constant(v);
  return t !== undefined && t.dims.length === 0 && Number(t.data[0]) === 0;
}
