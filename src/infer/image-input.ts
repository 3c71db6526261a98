/**
 * A decoded image → one model input [C, H, W] float32, the way training feeds images:
 * channels converted as PIL's `convert("L")` / `convert("RGB")` (alpha dropped), scaled to
 * [0, 1] (ToTensor), then resized to the model's H×W with PIL's bilinear filter (torchvision
 * `Resize` on PIL images): a triangle filter over half-pixel centres whose support widens with
 * the downscale factor (antialiasing). Upscaling is exactly the half-pixel bilinear resize that
 * training does inside the graph (28 → 224 for AlexNet).
 */
import type { Image } from "./png";

/** ITU-R 601-2 luma with PIL's fixed-point rounding: L = (19595 R + 38470 G + 7471 B + 2^15) >> 16. */
function luma(r: number, g: number, b: number): number {
  return (r * 19595 + g * 38470 + b * 7471 + 0x8000) >> 16;
}

/** Planar float channels in [0, 1]: `channels` 1 (grey) or 3 (RGB). */
export function toPlanes(img: Image, channels: 1 | 3): Float32Array {
  const n = img.width * img.height;
  const out = new Float32Array(channels * n);
  const c = img.channels;
  const d = img.data;
  for (let i = 0; i < n; i++) {
    const p = i * c;
    const [r, g, b] = c >= 3 ? [d[p], d[p + 1], d[p + 2]] : [d[p], d[p], d[p]];
    if (channels === 1) out[i] = (c >= 3 ? luma(r, g, b) : r) / 255;
    else {
      out[i] = r / 255;
      out[n + i] = g / 255;
      out[2 * n + i] = b / 255;
    }
  }
  return out;
}

/** The weights of PIL's bilinear resampling along one axis: for each output index, the first input index and its weights. */
function axisWeights(inSize: number, outSize: number): { first: Int32Array; weights: Float64Array[] } {
  const scale = inSize / outSize;
  const filterScale = Math.max(scale, 1);
  const support = filterScale; // the triangle filter's support is 1, widened when downscaling
  const first = new Int32Array(outSize);
  const weights: Float64Array[] = [];
  for (let i = 0; i < outSize; i++) {
    const centre = (i + 0.5) * scale;
    const lo = Math.max(Math.trunc(centre - support + 0.5), 0);
    const hi = Math.min(Math.trunc(centre + support + 0.5), inSize);
    const w = new Float64Array(hi - lo);
    let sum = 0;
    for (let j = lo; j < hi; j++) {
      const x = Math.abs((j - centre + 0.5) / filterScale);
      w[j - lo] = x < 1 ? 1 - x : 0;
      sum += w[j - lo];
    }
    for (let k = 0; k < w.length; k++) w[k] = sum > 0 ? w[k] / sum : 0;
    first[i] = lo;
    weights.push(w);
  }
  return { first, weights };
}

/** Resizes planar channels [C, h, w] to [C, H, W] (separable: rows, then columns). */
export function resizeBilinear(planes: Float32Array, channels: number, h: number, w: number, H: number, W: number): Float32Array {
  if (h === H && w === W) return planes;
  const xs = axisWeights(w, W);
  const ys = axisWeights(h, H);
  const out = new Float32Array(channels * H * W);
  const rows = new Float64Array(h * W);
  for (let c = 0; c < channels; c++) {
    const src = planes.subarray(c * h * w, (c + 1) * h * w);
    for (let y = 0; y < h; y++) {
      for (let X = 0; X < W; X++) {
        const wt = xs.weights[X];
        let acc = 0;
        for (let k = 0; k < wt.length; k++) acc += wt[k] * src[y * w + xs.first[X] + k];
        rows[y * W + X] = acc;
      }
    }
    for (let Y = 0; Y < H; Y++) {
      const wt = ys.weights[Y];
      for (let X = 0; X < W; X++) {
        let acc = 0;
        for (let k = 0; k < wt.length; k++) acc += wt[k] * rows[(ys.first[Y] + k) * W + X];
        out[c * H * W + Y * W + X] = acc;
      }
    }
  }
  return out;
}

/** One image as the model's input [C, H, W]. */
export function imageToInput(img: Image, channels: 1 | 3, height: number, width: number): Float32Array {
  return resizeBilinear(toPlanes(img, channels), channels, img.height, img.width, height, width);
}
