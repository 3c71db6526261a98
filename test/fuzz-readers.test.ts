/**
 * Property-based fuzzing of every file alexc reads (issue 22), in process: ONNX (what inspect,
 * export, export-weights, predict and train do before onnxruntime), IDX (raw and gzip),
 * checkpoints, safetensors, PNG. Each damaged input must be read, or refused with one of alexc's
 * errors carrying the reader's exit code and a one-line message naming the file, in bounded time,
 * with no allocation over the input's budget (test/helpers/fuzz/guard.ts). Seeded: FUZZ_SEED
 * replays another run; a failure prints the seed and fast-check's path to the failing case.
 * scripts/fuzz.ts runs the same properties for as long as asked.
 */
import fc from "fast-check";
import { judge } from "./helpers/fuzz/guard";
import { tinyCnnOnnx } from "./helpers/fuzz/onnx-seed";
import { allTargets, type Target } from "./helpers/fuzz/targets";

const SEED = Number(process.env.FUZZ_SEED ?? 22);
/** Cases per reader: the ONNX reader imports a whole training file per case (≈ 6 ms), the others take well under 1 ms. */
const RUNS: Record<string, number> = { IDX: 5000, checkpoint: 5000, safetensors: 5000, PNG: 5000, ONNX: 1200 };

const targets = allTargets(tinyCnnOnnx());

describe.each(targets.map((t) => [t.name, t] as [string, Target]))("fuzzing the %s reader", (name, t) => {
  test(`${RUNS[name]} damaged files: each read, or refused cleanly (exit ${t.exitCodes.join("/")}, one line naming the file), in bounded time and memory`, () => {
    const tally = { read: 0, refused: 0 };
    const report = fc.check(
      fc.property(t.inputs, (bytes) => {
        const v = judge(() => t.read(bytes), { exitCodes: t.exitCodes, source: t.file, timeLimitMs: 2000, allocationBudget: t.budget(bytes) });
        if (!v.ok) throw new Error(v.why);
        v.exitCode === 0 ? tally.read++ : tally.refused++;
      }),
      { seed: SEED, numRuns: RUNS[name] },
    );
    if (report.failed) {
      const why = String((report.errorInstance as Error)?.message).split("\n").slice(0, 8).map((l) => l.slice(0, 400)).join("\n");
      throw new Error(`${name} reader, seed ${SEED}, path ${report.counterexamplePath} (replay: FUZZ_SEED=${SEED}, or npx tsx scripts/fuzz.ts --only ${name} --seed ${SEED}):\n${why}`);
    }
    // The damage must reach both sides: files still read, and files refused.
    expect(tally.read).toBeGreaterThan(0);
    expect(tally.refused).toBeGreaterThan(0);
  });
});
