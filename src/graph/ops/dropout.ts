/**
 * Dropout. In training mode (training_mode input true) ONNX Dropout returns the scaled
 * output and the keep-mask; the VJP is dY·mask/(1−p). The mask comes from the runtime's
 * generator, seeded through the `seed` attribute.
 */
import { OpDef } from "../op";
import { dropoutForWebGpu } from "./dropout.webgpu";

export const Dropout: OpDef = {
  type: "Dropout",
  attrs: { seed: "int" },
  nondiff: [1, 2],
  lowerings: { webgpu: dropoutForWebGpu },
  infer([x, ratio], _attrs, ctx, outputs) {
    if (!x) return ctx.fail("needs an input");
    if (ratio && ratio.shape.length !== 0) return ctx.fail("ratio must be a scalar");
    return outputs > 1 ? [{ dtype: x.dtype, shape: x.shape }, { dtype: "bool", shape: x.shape }] : [{ dtype: x.dtype, shape: x.shape }];
  },
  vjp(b, node, [dY]) {
    if (!dY) return [];
    const mask = node.outputs[1];
    const ratioName = node.inputs[1]?.name;
    const ratio = ratioName ? b.initializers.get(ratioName) : undefined;
    if (!mask || !ratio) throw new Error("internal: a differentiated Dropout needs its mask output and a constant ratio");
    const p = Number(ratio.data[0]);
    const scale = b.op1("Mul", [b.op1("Cast", [mask], { to: 1 }), b.scalar(1 / (1 - p), dY.dtype)]);
    return [b.op1("Mul", [dY, dY.dtype === "float32" ? scale : b.op1("Cast", [scale], { to: 11 })])];
  },
};
