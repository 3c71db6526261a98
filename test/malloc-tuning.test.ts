/**
 * `alexc train` re-runs itself under malloc tunables that keep freed memory for reuse
 * (src/cli/malloc-tuning.ts); other commands, and a user's own GLIBC_TUNABLES, are left alone.
 * The fixture model prints the tunables of the process that loads it.
 */
import { MALLOC_TUNABLES, relaunchWithMallocTuning, stepsInPlace } from "../src/cli/malloc-tuning";
import { describeResult, runAlexc } from "./helpers/cli";
import { makeTmpDir } from "./helpers/tmp";
import { writeSyntheticData } from "./helpers/train-idx";

const tmp = makeTmpDir("alexc-malloc");
afterAll(() => tmp.remove());
const SMALL = ["--train-limit", "32", "--test-limit", "16", "--batch-size", "16", "--epochs", "1", "--threads", "1"];

test("only `train`, and only without a GLIBC_TUNABLES of the user's, is relaunched", () => {
  expect(relaunchWithMallocTuning(["build", "models/lenet.ts"], "unused")).toBe(false);
  const saved = process.env.GLIBC_TUNABLES;
  process.env.GLIBC_TUNABLES = "glibc.malloc.check=0";
  try {
    expect(relaunchWithMallocTuning(["train", "models/lenet.ts"], "unused")).toBe(false);
  } finally {
    if (saved === undefined) delete process.env.GLIBC_TUNABLES;
    else process.env.GLIBC_TUNABLES = saved;
  }
});

test("steps on alexc's own binding (updates in place) need no tunables; every other CPU step does", () => {
  expect(stepsInPlace(["train", "models/lenet.ts"])).toBe(true);
  expect(stepsInPlace(["train", "models/lenet.ts", "--ep", "cpu", "--steps-per-run", "1"])).toBe(true);
  expect(stepsInPlace(["train", "models/lenet.ts", "--no-native"])).toBe(false);
  expect(stepsInPlace(["train", "models/lenet.ts", "--native=false"])).toBe(false);
  expect(stepsInPlace(["train", "models/lenet.ts", "--ep", "webgpu"])).toBe(false);
  expect(stepsInPlace(["train", "models/lenet.ts", "--steps-per-run=4"])).toBe(false);
  expect(relaunchWithMallocTuning(["train", "models/lenet.ts"], "unused")).toBe(false);
});

test("a rank of `--dist` is never relaunched: mpirun tracks the process it started", () => {
  expect(relaunchWithMallocTuning(["train", "models/lenet.ts", "--dist", "mpi", "--no-native"], "unused")).toBe(false);
  expect(relaunchWithMallocTuning(["train", "models/lenet.ts", "--dist=mpi", "--no-native"], "unused")).toBe(false);
});

test("the trainer on onnxruntime-node's binding runs under the tunables; a user's own setting wins; in place it runs without", () => {
  if (process.platform !== "linux") return;
  const data = tmp.sub("data");
  writeSyntheticData(data, 32, 16);
  const inPlace = runAlexc(["train", "test/fixtures/reports-tunables.ts", "--data", data, ...SMALL, "--out", tmp.sub("in-place")], { timeoutMs: 60_000 });
  if (inPlace.status !== 0) throw new Error(describeResult(inPlace));
  expect(inPlace.stderr).toContain("GLIBC_TUNABLES=(unset)");
  const ours = runAlexc(["train", "test/fixtures/reports-tunables.ts", "--data", data, ...SMALL, "--no-native", "--out", tmp.sub("ours")], { timeoutMs: 60_000 });
  if (ours.status !== 0) throw new Error(describeResult(ours));
  // glibc splits the variable at ':' in place once it has read it, so the first tunable is what remains visible.
  expect(ours.stderr).toContain(`GLIBC_TUNABLES=${MALLOC_TUNABLES.split(":")[0]}`);

  const theirs = runAlexc(["train", "test/fixtures/reports-tunables.ts", "--data", data, ...SMALL, "--no-native", "--out", tmp.sub("theirs")], {
    timeoutMs: 60_000,
    env: { GLIBC_TUNABLES: "glibc.malloc.check=0" },
  });
  if (theirs.status !== 0) throw new Error(describeResult(theirs));
  expect(theirs.stderr).toContain("GLIBC_TUNABLES=glibc.malloc.check=0");
});
