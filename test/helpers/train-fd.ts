/** Helpers for the finite-difference VJP checks: a seeded PRNG and session runners. */
import "./train-realm";
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../../src/graph/ir";
import { createSession, modelBytes } from "../../src/train/session";

/** mulberry32: a small deterministic PRNG in [0, 1). */
export function prng(seed: number): () => number {
  let a = seed >>> 0;
  return () => {
    a = (a + 0x6d2b79f5) >>> 0;
    let t = a;
    t = Math.imul(t ^ (t >>> 15), t | 1);
    t ^= t + Math.imul(t ^ (t >>> 7), t | 61);
    return ((t ^ (t >>> 14)) >>> 0) / 4294967296;
  };
}

/** Standard normal samples (Box–Muller). */
export function normals(rand: () => number, n: number): number[] {
  const out: number[] = [];
  while (out.length < n) {
    const u = Math.max(rand(), 1e-12);
    const v = rand();
    out.push(Math.sqrt(-2 * Math.log(u)) * Math.cos(2 * Math.PI * v));
  }
  return out;
}

export type FloatKind = "float32" | "float64";

export function floatTensor(kind: FloatKind, values: readonly number[], dims: readonly number[]): ort.Tensor {
  return new ort.Tensor(kind, kind === "float64" ? Float64Array.from(values) : Float32Array.from(values), dims as number[]);
}

export async function sessionOf(b: GraphBuilder): Promise<ort.InferenceSession> {
  return createSession(modelBytes(b), { threads: 1 });
}
