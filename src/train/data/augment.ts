/**
 * Training-image augmentation, applied by the data loader to each batch's raw uint8 images before
 * they are fed to the step (docs/training-recipes.md says why there and not in the step graph).
 * Every draw comes from a generator derived from (seed, epoch, batch), so a resumed run, or one
 * with several steps per run, sees the same images as a straight one; evaluation never comes here.
 */
import type { AugmentSpec } from "../../graph/dsl";
import { UsageError } from "../../graph/errors";
import { Rng } from "../../graph/random";
import { adjustBrightness, adjustContrast, cropPadded, erase, flipHorizontal, type Box } from "./augment-ops";

/** An augmentation with every setting checked against the images it applies to. */
export interface Augmentation {
  readonly cropPadding: number;
  readonly flip: boolean;
  readonly brightness: number;
  readonly contrast: number;
  readonly erasing: number;
}

/** RandomErasing's fixed settings (torchvision's defaults). */
const ERASE_SCALE = [0.02, 0.33] as const;
const ERASE_RATIO = [0.3, 3.3] as const;
const ERASE_ATTEMPTS = 10;

/**
 * Checks a spec against `rows × cols` images; undefined when it changes nothing. `name(key)`
 * says where a setting came from (a flag or the model's default) for the error (exit 64).
 */
export function resolveAugment(spec: AugmentSpec | undefined, rows: number, cols: number, name: (key: keyof AugmentSpec) => string): Augmentation | undefined {
  if (!spec) return undefined;
  const { cropPadding = 0, flip = false, brightness = 0, contrast = 0, erasing = 0 } = spec;
  if (!Number.isInteger(cropPadding) || cropPadding < 0) throw new UsageError(`${name("cropPadding")} must be a whole number of pixels ≥ 0, got ${cropPadding}`);
  if (cropPadding >= Math.min(rows, cols)) {
    throw new UsageError(`${name("cropPadding")} ${cropPadding} would crop windows larger than the ${rows}×${cols} image they are cut from (at most ${Math.min(rows, cols) - 1})`);
  }
  if (typeof flip !== "boolean") throw new UsageError(`${name("flip")} must be true or false, got ${String(flip)}`);
  for (const key of ["brightness", "contrast"] as const) {
    const v = spec[key] ?? 0;
    if (!(v >= 0 && v <= 1)) throw new UsageError(`${name(key)} must be in [0, 1] (factors drawn from [1 − x, 1 + x]), got ${v}`);
  }
  if (!(erasing >= 0 && erasing <= 1)) throw new UsageError(`${name("erasing")} is a probability in [0, 1], got ${erasing}`);
  const aug = { cropPadding, flip, brightness, contrast, erasing };
  return cropPadding || flip || brightness || contrast || erasing ? aug : undefined;
}

/** One line for the run's log: the augmentation in torchvision's terms. */
export function describeAugment(a: Augmentation): string {
  const parts = [
    a.cropPadding ? `RandomCrop(padding=${a.cropPadding})` : "",
    a.flip ? "RandomHorizontalFlip" : "",
    a.brightness || a.contrast ? `ColorJitter(brightness=${a.brightness}, contrast=${a.contrast})` : "",
    a.erasing ? `RandomErasing(p=${a.erasing})` : "",
  ];
  return parts.filter(Boolean).join(", ");
}

/** The generator of one batch's draws: the same whether or not the run was resumed before it. */
export function augmentRng(seed: number, epoch: number, batchIndex: number): Rng {
  return Rng.derive(seed, "augment", epoch, batchIndex);
}

/**
 * Augments, in place, consecutive batches of `rows × cols` images (the batches of one run of the
 * step, `sizes[i]` images each), the first being batch `batchIndex` of `epoch`.
 */
export function augmentBatches(images: Uint8Array, sizes: readonly number[], rows: number, cols: number, a: Augmentation, at: { seed: number; epoch: number; batchIndex: number }): void {
  const pixels = rows * cols;
  let offset = 0;
  for (const [i, size] of sizes.entries()) {
    const rng = augmentRng(at.seed, at.epoch, at.batchIndex + i);
    for (let k = 0; k < size; k++, offset++) {
      const img = images.subarray(offset * pixels, (offset + 1) * pixels);
      img.set(augmentImage(img, rows, cols, a, rng));
    }
  }
}

/** One image through every enabled transform, drawing its parameters from `rng` in a fixed order. */
export function augmentImage(src: Uint8Array, rows: number, cols: number, a: Augmentation, rng: Rng): Uint8Array {
  const p = a.cropPadding;
  const img = p ? cropPadded(src, rows, cols, p, rng.nextInt(2 * p + 1), rng.nextInt(2 * p + 1)) : src.slice();
  if (a.flip && rng.nextFloat() < 0.5) flipHorizontal(img, rows, cols);
  if (a.brightness) adjustBrightness(img, uniform(rng, Math.max(0, 1 - a.brightness), 1 + a.brightness));
  if (a.contrast) adjustContrast(img, uniform(rng, Math.max(0, 1 - a.contrast), 1 + a.contrast));
  if (a.erasing && rng.nextFloat() < a.erasing) {
    const box = erasingBox(rng, rows, cols);
    if (box) erase(img, cols, box);
  }
  return img;
}

/**
 * torchvision RandomErasing.get_params: an area fraction and a log-uniform aspect ratio, retried
 * until the box fits; undefined (nothing erased) after ten misses.
 */
export function erasingBox(rng: Rng, rows: number, cols: number): Box | undefined {
  for (let attempt = 0; attempt < ERASE_ATTEMPTS; attempt++) {
    const area = rows * cols * uniform(rng, ERASE_SCALE[0], ERASE_SCALE[1]);
    const aspect = Math.exp(uniform(rng, Math.log(ERASE_RATIO[0]), Math.log(ERASE_RATIO[1])));
    const height = Math.round(Math.sqrt(area * aspect));
    const width = Math.round(Math.sqrt(area / aspect));
    if (!(height < rows && width < cols)) continue;
    return { top: rng.nextInt(rows - height + 1), left: rng.nextInt(cols - width + 1), height, width };
  }
  return undefined;
}

function uniform(rng: Rng, lo: number, hi: number): number {
  return lo + (hi - lo) * rng.nextFloat();
}
