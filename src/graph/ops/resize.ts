/** Resize by constant scales: the in-graph 28→224 bilinear upsampling of the input pipeline. */
import { OpDef } from "../op";

export const Resize: OpDef = {
  type: "Resize",
  attrs: { mode: "string", coordinate_transformation_mode: "string", nearest_mode: "string" },
  infer([x], _attrs, ctx) {
    const scales = ctx.shapeValue(2) as number[] | undefined;
    if (!x || !scales) return ctx.fail("needs an input and constant scales");
    if (scales.length !== x.shape.length) return ctx.fail(`scales [${scales.join(",")}] do not match input rank ${x.shape.length}`);
    return [{ dtype: x.dtype, shape: x.shape.map((d, i) => (typeof d === "number" ? Math.floor(d * scales[i]) : scales[i] === 1 ? d : `${d}_scaled`)) }];
  },
};
