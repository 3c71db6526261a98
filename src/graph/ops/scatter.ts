/** ScatterElements: the accumulation step of MaxPool's gradient. */
import { OpDef } from "../op";

export const ScatterElements: OpDef = {
  type: "ScatterElements",
  attrs: { axis: "int", reduction: "string" },
  infer([data, indices, updates], _attrs, ctx) {
    if (!data || !indices || !updates) return ctx.fail("needs data, indices and updates");
    return [{ dtype: data.dtype, shape: data.shape }];
  },
};
