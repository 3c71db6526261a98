/**
 * A small, seedable, serialisable PRNG (xoshiro128**, seeded through splitmix32).
 * Everything random in alexc — parameter initialisation, data shuffling, dropout seeds —
 * draws from one of these, so a seed fixes the result and a checkpoint can store the state.
 */
export type RngState = [number, number, number, number];

/** Bound once: under jest `Math` is a sandbox global, and looking it up in the hot loops made
 * AlexNet's initialisation ~30x slower (65 s instead of 2 s). */
const imul = Math.imul;

export class Rng {
  private s: Uint32Array;

  constructor(seed: number | RngState) {
    this.s = new Uint32Array(4);
    if (typeof seed === "number") {
      let x = seed >>> 0;
      for (let i = 0; i < 4; i++) {
        // splitmix32: spreads a small seed over the whole state
        x = (x + 0x9e3779b9) >>> 0;
        let z = x;
        z = imul(z ^ (z >>> 16), 0x85ebca6b) >>> 0;
        z = imul(z ^ (z >>> 13), 0xc2b2ae35) >>> 0;
        this.s[i] = (z ^ (z >>> 16)) >>> 0;
      }
      if (this.s.every((v) => v === 0)) this.s[0] = 1;
    } else {
      this.s.set(seed);
    }
  }

  /** Derives an independent stream, e.g. one per parameter tensor or per epoch. */
  static derive(seed: number, ...path: (number | string)[]): Rng {
    let h = seed >>> 0;
    for (const p of path) {
      const text = String(p);
      for (let i = 0; i < text.length; i++) h = imul(h ^ text.charCodeAt(i), 0x01000193) >>> 0;
      h = imul(h ^ 0xff, 0x01000193) >>> 0;
    }
    return new Rng(h);
  }

  nextU32(): number {
    const s = this.s;
    const result = imul(rotl(imul(s[1], 5) >>> 0, 7), 9) >>> 0;
    const t = (s[1] << 9) >>> 0;
    s[2] ^= s[0];
    s[3] ^= s[1];
    s[1] ^= s[2];
    s[0] ^= s[3];
    s[2] ^= t;
    s[3] = rotl(s[3], 11);
    return result;
  }

  /** Uniform in [0, 1) with 32 bits of randomness. */
  nextFloat(): number {
    return this.nextU32() / 4294967296;
  }

  /** Uniform integer in [0, n). */
  nextInt(n: number): number {
    return Math.floor(this.nextFloat() * n);
  }

  state(): RngState {
    return [this.s[0], this.s[1], this.s[2], this.s[3]];
  }
}

function rotl(x: number, k: number): number {
  return ((x << k) | (x >>> (32 - k))) >>> 0;
}
