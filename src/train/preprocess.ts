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
    // The float32 scales must give the size itself (28 → 96 by 96/28 does; ResNet's input).
    const [sh, sw] = Float32Array.of(p.resize / h, p.resize / w);
    if (Math.floor(h * sh) !== p.resize || Math.floor(w * sw) !== p.resize) {
      throw new ModelError(`preprocess: resize ${p.resize} is not reached from the raw size ${h}×${w} by a float32 scale`);
    }
    const scales = b.constant("float32", [4], [1, 1, p.resize / h, p.resize / w]);
    return b.op1("Resize", [x, undefined, scales], { mode: "linear", coordinate_transformation_mode: "half_pixel" });
  });
}
