/**
 * Parameter initialisation with PyTorch's defaults: Conv and Linear weights kaiming-uniform
 * with a = √5 and biases uniform ±1/√fan_in — both reduce to U(−1/√fan_in, 1/√fan_in).
 * Each tensor draws from its own stream derived from (seed, parameter name), so adding a layer
 * does not change the others' values and the same seed always gives the same bytes.
 */
import { Rng } from "./random";

export function uniformInit(seed: number, name: string, count: number, fanIn: number): Float32Array {
  const bound = 1 / Math.sqrt(fanIn);
  const rng = Rng.derive(seed, name);
  const out = new Float32Array(count);
  for (let i = 0; i < count; i++) out[i] = (rng.nextFloat() * 2 - 1) * bound;
  return out;
}

/**
 * A tensor's starting values: `fill` where PyTorch starts from a constant (BatchNorm's weight 1,
 * bias 0 and running statistics), else uniformInit's.
 */
export function initialValues(seed: number, name: string, count: number, fanIn: number, fill?: number): Float32Array {
  return fill === undefined ? uniformInit(seed, name, count, fanIn) : new Float32Array(count).fill(fill);
}
