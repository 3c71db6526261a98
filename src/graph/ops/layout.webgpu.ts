/**
 * ConstantOfShape(Shape(v)) with value 0 of v's type, for the WebGPU provider: v · 0. Max-pooling's
 * gradient scatters into such zeros; from Shape alone onnxruntime builds them on the CPU and copies
 * them over every step, while v · 0 is made on the GPU. The two differ only where v is ±inf or NaN,
 * when the loss is not finite anyway.
 */
import type { Node } from "../ir";
import type { LoweringContext, ProviderLowering } from "../lowering";
import type { TensorData, Value } from "../types";

export const constantOfShapeForWebGpu: ProviderLowering = {
  rewrite(ctx, n) {
    const v = zerosLike(ctx, n);
    if (!v) return undefined;
    const like = ctx.value(v)!;
    return [ctx.b.op1("Mul", [like, ctx.b.scalar(0, like.dtype)], {}, { name: n.name, outputNames: [n.outputs[0].name] })];
  },
};

/** For ConstantOfShape(Shape(v)) with value 0 of v's type: v. */
function zerosLike(ctx: LoweringContext, n: Node): Value | undefined {
  const shape = ctx.producer(n.inputs[0]);
  const value = n.attrs.value as TensorData | undefined;
  const v = shape?.op === "Shape" ? shape.inputs[0] : undefined;
  return v && value && value.dtype === v.dtype && Number(value.data[0]) === 0 ? v : undefined;
}
