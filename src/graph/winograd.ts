/**
 * Winograd's minimal filtering algorithms F(m×m, r×r) (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): the transforms, the tile each convolution uses and how
 * much of a batch their tensors may take at once. Used by the CPU lowering of forward and dX
 * convolutions (src/passes/winograd.ts) and by the Winograd form of the weight gradient
 * (ops/conv-weight-grad-winograd.ts).
 *
 * In one dimension, with d an input tile of α = m + r − 1 values, g a filter of r and e an output
 * tile of m, every such algorithm is one trilinear identity:
 *
 *   Σ_{j,k} e_j g_k d_{j+k} = Σ_p (Aᵀᵀe)_p (G g)_p (Bᵀ d)_p
 *
 * Its derivative in e is the correlation y = Aᵀ[(G g) ⊙ (Bᵀ d)] (the forward convolution); its
 * derivative in g is the weight gradient dW = Gᵀ[(A e) ⊙ (Bᵀ d)] of one tile, e the output gradient.
 * In two dimensions the transforms apply along both axes (Kronecker products).
 */

/** The kernel sizes alexc computes by Winograd's algorithm (r of F(m×m, r×r)). */
export const KERNELS: readonly number[] = [3, 5];

/**
 * The finite interpolation points for an input tile of α (∞ is the last point): small integers
 * first, then 1/2, as in Lavin & Gray. α ≤ 7 keeps float32 rounding within ≈ 3e-5 of the output's
 * largest value (measured on AlexNet's conv3–conv5 shapes).
 */
const POINTS: Readonly<Record<number, readonly number[]>> = { 4: [0, 1, -1], 5: [0, 1, -1, 2], 6: [0, 1, -1, 2, -2], 7: [0, 1, -1, 2, -2, 0.5] };
const MAX_ALPHA = 7;

/** Input and output channels from which a convolution is worth it (below, the transforms cost more than they save). */
export const MIN_CHANNELS = 64;

export interface Transforms {
  /** Bᵀ: α×α (input tile), G: α×r (filter), Aᵀ: m×α (output tile). */
  readonly BT: number[][];
  readonly G: number[][];
  readonly AT: number[][];
}

/**
 * Bᵀ, G and Aᵀ of F(m, r) by Toom-Cook over the finite points and ∞: G and Aᵀ evaluate the filter
 * and output polynomials at the points, Bᵀ is the transposed inverse of the α×α evaluation matrix.
 * Lavin's convention for the scale: row i of Bᵀ times Π_{j≠i}(p_i − p_j), row i of G divided by it
 * (for F(4, 3) this gives the paper's matrices).
 */
export function winogradTransforms(m: number, r: number): Transforms {
  const alpha = m + r - 1;
  const points = POINTS[alpha];
  if (!points) throw new Error(`internal: no interpolation points for F(${m}, ${r})`);
  const powers = (p: number | undefined, len: number) => Array.from({ length: len }, (_, k) => (p === undefined ? (k === len - 1 ? 1 : 0) : p ** k));
  const pts: (number | undefined)[] = [...points, undefined];
  const inv = invert(pts.map((p) => powers(p, alpha)));
  const scale = pts.map((p, i) => (p === undefined ? 1 : points.reduce((acc, q, j) => (j === i ? acc : acc * (p - q)), 1)));
  return {
    BT: pts.map((_, i) => inv.map((row) => row[i] * scale[i])),
    G: pts.map((p, i) => powers(p, r).map((v) => v / scale[i])),
    AT: Array.from({ length: m }, (_, j) => pts.map((p) => powers(p, m)[j])),
  };
}

/** The inverse of a small square matrix (Gauss-Jordan, partial pivoting, float64). */
function invert(a: number[][]): number[][] {
  const n = a.length;
  const w = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(w[i][c]) > Math.abs(w[pivot][c])) pivot = i;
    [w[c], w[pivot]] = [w[pivot], w[c]];
    const d = w[c][c];
    for (let j = 0; j < 2 * n; j++) w[c][j] /= d;
    for (let i = 0; i < n; i++) {
      const k = w[i][c];
      if (i !== c && k !== 0) for (let j = 0; j < 2 * n; j++) w[i][j] -= k * w[c][j];
    }
  }
  return w.map((row) => row.slice(n));
}

/** The Kronecker product of two matrices (arrays of rows). */
export function kron(a: number[][], b: number[][]): number[][] {
  return a.flatMap((ra) => b.map((rb) => ra.flatMap((x) => rb.map((y) => x * y))));
}

/**
 * The output tile for an ho×wo output: the fewest multiplications, α² per tile, counting the
 * tiles that overhang the output (13×13: F(5, 3) with 9 tiles, 441 per channel pair, against
 * F(4, 3)'s 576 and a direct convolution's 1521); the smaller tile where equal (fewer rounding errors).
 */
export function chooseTile(r: number, ho: number, wo: number): number {
  const cost = (m: number) => (m + r - 1) ** 2 * Math.ceil(ho / m) * Math.ceil(wo / m);
  let best = 2;
  for (let m = 3; m + r - 1 <= MAX_ALPHA; m++) if (cost(m) < cost(best)) best = m;
  return best;
}

/**
 * The most bytes one convolution's transforms may take at once, by default (the CPU lowering's
 * forward and dX, the weight gradient): the budget at which AlexNet's step peaks no higher than
 * with direct convolutions; a smaller one was slower (docs/performance.md).
 */
export const SLICE_BYTES = 128 * 2 ** 20;

/** How many slices of a batch keep `perImage` bytes of transforms per image within `budget` at once. */
export function batchSlices(batch: number | undefined, perImage: number, budget: number): number {
  return batch ? Math.min(batch, Math.max(1, Math.ceil((batch * perImage) / budget))) : 1;
}
