/**
 * The input pipeline as graph ops, so a batch crosses to the runtime as 784 bytes per image:
 * uint8 → float, /255 (torchvision ToTensor), then an optional bilinear resize with
 * half-pixel centres (torchvision Resize on upsampling; PIL additionally rounds to uint8,
 * a difference of at most 0.5/255).
 */
import type { Preprocess } from "../graph/dsl";
import { ModelError } from "../graph/errors";
import type { GraphBuilder } from "../graph/ir";
import { DTYPE_CODE, Value } from "../graph/types";

export function rawImageInput(b: GraphBuilder, p: Preprocess | undefined, modelName: string): Value {
  if (!p) throw new ModelError(`model '${modelName}' declares no preprocess (raw image shape); training needs one`);
  return b.input("images", "uint8", ["N", ...p.raw]);
}

export function preprocess(b: GraphBuilder, images: Value, p: Preprocess): Value {
  return b.scoped("preprocess", () => {
    const x = b.op1("Div", [b.op1("Cast", [images], { to: DTYPE_CODE.float32 }), b.scalar(255)]);
    if (!p.resize) return x;
    const [, h, w] = p.raw;
    if (p.resize % h !== 0 || p.resize % w !== 0) {
      throw new ModelError(`preprocess: resize ${p.resize} must be a multiple of the raw size ${h}×${w}`);
    }
    const scales = b.constant("float32", [4], [1, 1, p.resize / h, p.resize / w]);
    return b.op1("Resize", [x, undefined, scales], { mode: "linear", coordinate_transformation_mode: "half_pixel" });
  });
}
