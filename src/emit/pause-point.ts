/**
 * A test hook for crash tests (scripts/kill-soak.ts, test/kill-resume.test.ts): with
 * ALEXC_PAUSE_AT=<point> or <point>#<n>, the process stops at the named point (its n-th visit,
 * default the first) and says so on stderr, so that a test can kill -9 it exactly there. Points:
 * `write:<file name>` (an atomic write with the temp file half written, e.g. write:checkpoint.ckpt)
 * and `evaluate` (the test-set evaluation after its first batch). Unset, it costs one lookup.
 */
const visits = new Map<string, number>();

export function pausePoint(point: string): void {
  const want = process.env.ALEXC_PAUSE_AT;
  if (!want || !want.startsWith(point)) return;
  const n = (visits.get(point) ?? 0) + 1;
  visits.set(point, n);
  if (want !== point && want !== `${point}#${n}`) return;
  process.stderr.write(`alexc: paused at ${point}#${n}\n`);
  // Blocks this thread (timers, I/O and onnxruntime included) until the test kills the process.
  Atomics.wait(new Int32Array(new SharedArrayBuffer(4)), 0, 0, 10 * 60_000);
}
