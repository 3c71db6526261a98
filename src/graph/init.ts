/**
 * Parameter initialisation. The default is PyTorch's modules' own: Conv and Linear weights
 * kaiming-uniform with a = √5 and biases uniform ±1/√fan_in, which both reduce to
 * U(−1/√fan_in, 1/√fan_in). A model may ask for Xavier (Glorot) uniform weights instead, as
 * d2l's `train_ch6` re-initialises every Conv2d and Linear weight (`nn.init.xavier_uniform_`):
 * U(±√(6 / (fan_in + fan_out))), biases unchanged.
 * Each tensor draws from its own stream derived from (seed, parameter name), so adding a layer
 * does not change the others' values and the same seed always gives the same bytes.
 */
import { Rng } from "./random";
import { numel } from "./types";

/** How a model's weights start: PyTorch's module defaults, or Xavier-uniform weights (d2l's recipe). */
export type WeightInit = "pytorch" | "xavier";

export const WEIGHT_INITS: readonly WeightInit[] = ["pytorch", "xavier"];

/** PyTorch's default start U(±1/√fan_in), from the tensor's own stream. */
export function uniformInit(seed: number, name: string, count: number, fanIn: number): Float32Array {
  return uniformDraw(seed, name, count, 1 / Math.sqrt(fanIn));
}

function uniformDraw(seed: number, name: string, count: number, bound: number): Float32Array {
  const rng = Rng.derive(seed, name);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rng.nextFloat() * 2 - 1) * bound;
  return out;
}

/**
 * The bound of a tensor's uniform start. Xavier applies to weights, the tensors of rank ≥ 2
 * ([out, in, kh, kw] for Conv, a Linear's matrix): fan_in + fan_out = (out + in) × kh × kw,
 * which does not depend on which of the two axes holds the inputs. Biases keep 1/√fan_in.
 */
export function initBound(dims: readonly number[], fanIn: number, scheme: WeightInit = "pytorch"): number {
  if (scheme === "xavier" && dims.length >= 2) {
    return Math.sqrt(6 / ((dims[0] + dims[1]) * numel(dims.slice(2))));
  }
  return 1 / Math.sqrt(fanIn);
}

/**
 * A tensor's starting values: `fill` where PyTorch starts from a constant (BatchNorm's weight 1,
 * bias 0 and running statistics), else uniform within initBound's bound.
 */
export function initialValues(
  seed: number,
  name: string,
  dims: readonly number[],
  fanIn: number,
  fill?: number,
  scheme: WeightInit = "pytorch",
): Float32Array {
  const count = numel(dims);
  return fill === undefined ? uniformDraw(seed, name, count, initBound(dims, fanIn, scheme)) : new Float32Array(count).fill(fill);
}

/** The doc string an initialiser carries in the ONNX file. */
export function initDoc(dims: readonly number[], fanIn: number, fill?: number, scheme: WeightInit = "pytorch"): string {
  if (fill !== undefined) return `PyTorch's initial ${fill}`;
  if (scheme === "xavier" && dims.length >= 2) return `Xavier uniform U(±${initBound(dims, fanIn, scheme).toPrecision(6)})`;
  return `PyTorch default init U(±1/√${fanIn})`;
}
