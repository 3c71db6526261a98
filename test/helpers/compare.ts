/** Numeric agreement between two runtimes' outputs, with a readable report on failure. */

export interface Agreement {
  readonly count: number;
  /** max |a − b| */
  readonly maxAbsDiff: number;
  /** max |b| (b is the reference) */
  readonly maxAbsRef: number;
  /** maxAbsDiff / maxAbsRef */
  readonly relToMax: number;
  /** elements with |a − b| > rtol·|b| + atol */
  readonly violations: number;
  readonly worst: { index: number; actual: number; expected: number } | undefined;
}

// The loops below use plain arithmetic: under jest, calls of Math.abs, Math.max or
// Number.isFinite in a hot loop cost ≈ 270 ns each (AlexNet's 58 M parameters: minutes).
const abs = (v: number) => (v < 0 ? -v : v);

/** max |a[i]|. */
export function maxAbs(a: ArrayLike<number>): number {
  let m = 0;
  for (let i = 0; i < a.length; i++) {
    const v = abs(a[i]);
    if (v > m) m = v;
  }
  return m;
}

/**
 * Compares `actual` with the reference `expected`: the global criterion max|a−b| / max|b|, and
 * elementwise |a − b| ≤ rtol·|b| + atol (atol is the floor for entries near zero).
 */
export function agreement(actual: ArrayLike<number>, expected: ArrayLike<number>, rtol: number, atol: number): Agreement {
  if (actual.length !== expected.length) throw new Error(`length ${actual.length} vs ${expected.length}`);
  let maxAbsDiff = 0;
  let maxAbsRef = 0;
  let violations = 0;
  let worst: Agreement["worst"];
  let worstExcess = -Infinity;
  for (let i = 0; i < actual.length; i++) {
    const a = actual[i];
    const e = expected[i];
    if (!(a - a === 0) || !(e - e === 0)) {
      // not finite
      violations++;
      worst = { index: i, actual: a, expected: e };
      worstExcess = Infinity;
      continue;
    }
    const d = abs(a - e);
    const ae = abs(e);
    if (d > maxAbsDiff) maxAbsDiff = d;
    if (ae > maxAbsRef) maxAbsRef = ae;
    const excess = d - (rtol * ae + atol);
    if (excess > 0) violations++;
    if (excess > worstExcess) {
      worstExcess = excess;
      worst = { index: i, actual: a, expected: e };
    }
  }
  return { count: actual.length, maxAbsDiff, maxAbsRef, relToMax: maxAbsRef > 0 ? maxAbsDiff / maxAbsRef : maxAbsDiff, violations, worst };
}

export function formatAgreement(a: Agreement): string {
  const w = a.worst ? ` worst #${a.worst.index}: ${a.worst.actual} vs ${a.worst.expected}` : "";
  return `${a.count} values, max|Δ| ${a.maxAbsDiff.toExponential(3)}, max|ref| ${a.maxAbsRef.toExponential(3)}, max|Δ|/max|ref| ${a.relToMax.toExponential(3)}, ${a.violations} elementwise violations;${w}`;
}
