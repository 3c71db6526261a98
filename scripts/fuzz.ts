/**
 * The fuzz properties of test/fuzz-readers.test.ts, for longer soak runs: every reader (ONNX, IDX,
 * checkpoint, safetensors, PNG) on damaged inputs, each call judged by test/helpers/fuzz/guard.ts
 * (returns, or throws one of alexc's errors with the reader's exit code and a one-line message
 * naming the file; bounded time; no allocation over the input's budget).
 *
 *   npx tsx scripts/fuzz.ts [--runs 20000] [--seed N] [--only NAME]
 *
 * Prints, per reader, the cases run, how many the reader accepted and rejected, and the time; a
 * failure prints fast-check's report (seed, path, the smallest failing input) and exits 1.
 */
import fc from "fast-check";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { judge } from "../test/helpers/fuzz/guard";
import { tinyCnnOnnx } from "../test/helpers/fuzz/onnx-seed";
import { allTargets } from "../test/helpers/fuzz/targets";

function flag(name: string): string | undefined {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : undefined;
}

const runs = Number(flag("runs") ?? 20000);
const seed = Number(flag("seed") ?? Date.now() % 2 ** 31);
const only = flag("only");
let failed = false;
for (const t of allTargets(tinyCnnOnnx()).filter((x) => !only || x.name === only)) {
  const tally = { accepted: 0, rejected: 0 };
  const t0 = Date.now();
  const property = fc.property(t.inputs, (bytes) => {
    const v = judge(() => t.read(bytes), { exitCodes: t.exitCodes, source: t.file, timeLimitMs: 2000, allocationBudget: t.budget(bytes) });
    if (!v.ok) throw new Error(v.why);
    v.exitCode === 0 ? tally.accepted++ : tally.rejected++;
  });
  const report = fc.check(property, { seed, numRuns: runs });
  const s = ((Date.now() - t0) / 1000).toFixed(1);
  console.log(`${t.name}: ${report.numRuns} cases (seed ${seed}) in ${s} s: ${tally.accepted} read, ${tally.rejected} rejected cleanly${report.failed ? ", FAILED" : ""}`);
  if (report.failed) {
    failed = true;
    // The input itself can be large: its bytes go to a file, the report names the seed and path that replay it.
    const file = path.join(os.tmpdir(), `alexc-fuzz-failure-${t.name}-${seed}.bin`);
    fs.writeFileSync(file, report.counterexample![0]);
    console.log(`  seed ${seed}, path ${report.counterexamplePath}; input in ${file}\n  ${String((report.errorInstance as Error)?.message).split("\n").slice(0, 12).map((l) => l.slice(0, 400)).join("\n  ")}`);
  }
}
process.exit(failed ? 1 : 0);
