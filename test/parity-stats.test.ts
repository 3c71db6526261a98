/**
 * The statistics behind scripts/parity-runs.ts against textbook values: Student's t quantiles
 * (the table every statistics book prints) and a Welch interval worked by hand.
 */
import { studentTQuantile, summarize, welch } from "../scripts/parity/stats";

describe("parity statistics", () => {
  test.each([
    [1, 12.7062],
    [2, 4.3027],
    [3, 3.1824],
    [4, 2.7764],
    [8, 2.306],
    [30, 2.0423],
    [Infinity, 1.96],
  ])("t(0.975, df %p) = %p", (df, q) => {
    expect(studentTQuantile(0.975, df)).toBeCloseTo(q, 3);
  });

  test("the t quantile is odd in p", () => {
    expect(studentTQuantile(0.025, 5)).toBeCloseTo(-studentTQuantile(0.975, 5), 9);
  });

  test("mean and standard error use n − 1", () => {
    const s = summarize([1, 2, 3, 4, 5]);
    expect(s.mean).toBe(3);
    expect(s.se).toBeCloseTo(Math.sqrt(2.5 / 5), 12);
    expect(summarize([7]).se).toBeNaN();
  });

  test("Welch: difference, standard error, Satterthwaite df and the 95% interval", () => {
    // a: var 2.5, n 5 → se² 0.5; b: var 1, n 3 → se² 1/3; df = (5/6)² / (0.25/4 + (1/9)/2) = 5.882…
    const d = welch(summarize([1, 2, 3, 4, 5]), summarize([2, 3, 4]));
    expect(d.diff).toBe(0);
    expect(d.se).toBeCloseTo(Math.sqrt(0.5 + 1 / 3), 12);
    expect(d.df).toBeCloseTo(25 / 36 / (1 / 16 + 1 / 18), 9);
    expect(d.hi).toBeCloseTo(studentTQuantile(0.975, d.df) * d.se, 9);
    expect(d.beyond2se).toBe(false);
    expect(welch(summarize([10, 10.1, 9.9]), summarize([1, 1.1, 0.9])).beyond2se).toBe(true);
  });
});
