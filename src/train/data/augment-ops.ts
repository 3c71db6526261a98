/**
 * The pixel operations of training augmentation on one grayscale uint8 image (rows × cols),
 * each with its parameters given, so a test can hold them against torchvision's functional
 * transforms on a PIL image: `F.crop(F.pad(img, p), top, left, rows, cols)`, `F.hflip`,
 * `F.adjust_brightness` and `F.adjust_contrast` (PIL's `ImageEnhance`: a float32 blend with a
 * degenerate image, truncated to uint8), and `F.erase(…, v=0)`. Drawing the parameters is
 * augment.ts's.
 */

/** The image shifted by (padding − top, padding − left), as a crop of the zero-padded image. */
export function cropPadded(src: Uint8Array, rows: number, cols: number, padding: number, top: number, left: number): Uint8Array {
  const out = new Uint8Array(rows * cols);
  for (let y = 0; y < rows; y++) {
    const sy = y + top - padding;
    if (sy < 0 || sy >= rows) continue;
    for (let x = 0; x < cols; x++) {
      const sx = x + left - padding;
      if (sx >= 0 && sx < cols) out[y * cols + x] = src[sy * cols + sx];
    }
  }
  return out;
}

/** Mirrors the image left to right, in place. */
export function flipHorizontal(img: Uint8Array, rows: number, cols: number): void {
  for (let y = 0; y < rows; y++) img.subarray(y * cols, (y + 1) * cols).reverse();
}

/** PIL's `Image.blend(degenerate, img, factor)` for 8-bit pixels: in float32, truncated, clipped. */
function blendWith(img: Uint8Array, degenerate: number, factor: number): void {
  const f = Math.fround(factor);
  for (let i = 0; i < img.length; i++) {
    const v = Math.fround(degenerate + Math.fround(f * (img[i] - degenerate)));
    img[i] = v <= 0 ? 0 : v >= 255 ? 255 : Math.trunc(v);
  }
}

/** `ImageEnhance.Brightness(img).enhance(factor)`: a blend with black, in place. */
export function adjustBrightness(img: Uint8Array, factor: number): void {
  blendWith(img, 0, factor);
}

/** `ImageEnhance.Contrast(img).enhance(factor)`: a blend with the image's rounded mean grey, in place. */
export function adjustContrast(img: Uint8Array, factor: number): void {
  let sum = 0;
  for (let i = 0; i < img.length; i++) sum += img[i];
  blendWith(img, Math.trunc(sum / img.length + 0.5), factor);
}

/** A rectangle of the image: rows top..top+height, columns left..left+width. */
export interface Box {
  readonly top: number;
  readonly left: number;
  readonly height: number;
  readonly width: number;
}

/** Sets the box's pixels to 0 (torchvision RandomErasing's default value), in place. */
export function erase(img: Uint8Array, cols: number, box: Box): void {
  for (let y = box.top; y < box.top + box.height; y++) img.fill(0, y * cols + box.left, y * cols + box.left + box.width);
}
