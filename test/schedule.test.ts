/**
 * Learning-rate schedules (src/train/schedule.ts): every schedule's lr per optimizer step equals
 * torch.optim.lr_scheduler's (test/reference/lr_schedule.py, Debian's PyTorch, float64) over
 * 1000 steps, edges included; a scheduled run stopped and resumed ends with a straight run's
 * weights and logs each step's lr; bad schedule flags fail before training.
 */
import * as fs from "fs";
import * as path from "path";
import { loadCheckpoint } from "../src/train/checkpoint";
import { lrAt, resolveSchedule, type Schedule, type ScheduleSpec } from "../src/train/schedule";
import { describeResult, lines, REPO_ROOT, runAlexc } from "./helpers/cli";
import { PYTHON } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";
import { writeSyntheticData } from "./helpers/train-idx";
import { spawnSync } from "child_process";

const tmp = makeTmpDir("schedule");
afterAll(() => tmp.remove());

/** PyTorch's lr for steps 0 … steps − 1 of each schedule, from one Python process. */
function torchLrs(cases: readonly (readonly [Schedule, number])[]): number[][] {
  const r = spawnSync(PYTHON, [path.join(REPO_ROOT, "test", "reference", "lr_schedule.py"), JSON.stringify(cases)], { encoding: "utf8", timeout: 60_000 });
  if (r.status !== 0) throw new Error(`lr_schedule.py exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as number[][];
}

const CASES: { name: string; lr: number; spec: ScheduleSpec; steps: number }[] = [
  { name: "constant", lr: 1e-3, spec: { kind: "constant" }, steps: 1000 },
  { name: "step (StepLR 100, γ 0.5)", lr: 0.1, spec: { kind: "step", stepSize: 100, gamma: 0.5 }, steps: 1000 },
  { name: "step (StepLR 1, γ 0.99: a decay every step)", lr: 0.05, spec: { kind: "step", stepSize: 1, gamma: 0.99 }, steps: 1000 },
  { name: "cosine, no warm-up, to 0", lr: 1e-3, spec: { kind: "cosine", totalSteps: 1000 }, steps: 1001 },
  { name: "cosine, warm-up 100 from lr·0.01, to 1e-5", lr: 0.1, spec: { kind: "cosine", warmupSteps: 100, warmupStartFactor: 0.01, minLr: 1e-5, totalSteps: 1000 }, steps: 1001 },
  { name: "cosine, warm-up 1 step (LinearLR default 1/3)", lr: 3e-4, spec: { kind: "cosine", warmupSteps: 1, totalSteps: 337 }, steps: 338 },
  { name: "onecycle over 1000 steps", lr: 0.01, spec: { kind: "onecycle", totalSteps: 1000 }, steps: 1001 },
  { name: "onecycle over 469 steps (warm-up ends at a fractional step)", lr: 4e-3, spec: { kind: "onecycle", totalSteps: 469 }, steps: 470 },
  { name: "onecycle over 4 steps (the shortest)", lr: 1, spec: { kind: "onecycle", totalSteps: 4 }, steps: 5 },
];

describe("schedules equal torch.optim.lr_scheduler's, per optimizer step", () => {
  const resolved = CASES.map(({ lr, spec, steps }) => [resolveSchedule(spec, lr, 1), steps] as const);
  let refs: number[][] = [];
  beforeAll(() => {
    refs = torchLrs(resolved);
  });

  test.each(CASES.map((c, i) => ({ ...c, i })))("$name", ({ steps, i }) => {
    const s = resolved[i][0];
    const ref = refs[i];
    expect(ref.length).toBe(steps);
    for (let k = 0; k < steps; k++) {
      const got = lrAt(s, k);
      const err = Math.abs(got - ref[k]);
      if (!(err <= 1e-12 * Math.abs(ref[k]) || err <= 1e-18)) throw new Error(`step ${k}: alexc ${got}, torch ${ref[k]} (relative error ${err / Math.abs(ref[k])})`);
    }
  });

  test("past its total steps a cosine stays at min-lr and a one-cycle at its last value", () => {
    const cos = resolveSchedule({ kind: "cosine", totalSteps: 10, minLr: 1e-4 }, 1e-2, 1);
    expect(lrAt(cos, 10)).toBe(1e-4);
    expect(lrAt(cos, 50)).toBe(1e-4);
    const one = resolveSchedule({ kind: "onecycle", totalSteps: 10 }, 1e-2, 1);
    expect(lrAt(one, 57)).toBe(lrAt(one, 10));
  });

  test("defaults: the run's steps for cosine and onecycle, γ 0.1 for step", () => {
    expect(resolveSchedule({ kind: "onecycle" }, 1e-3, 1407)).toEqual({ kind: "onecycle", lr: 1e-3, totalSteps: 1407 });
    expect(resolveSchedule({ kind: "cosine" }, 1e-3, 50)).toEqual({ kind: "cosine", lr: 1e-3, warmupSteps: 0, warmupStartFactor: 1 / 3, minLr: 0, totalSteps: 50 });
    expect(resolveSchedule({ kind: "step", stepSize: 3 }, 1e-3, 50)).toEqual({ kind: "step", lr: 1e-3, stepSize: 3, gamma: 0.1 });
    expect(resolveSchedule(undefined, 1e-3, 50)).toEqual({ kind: "constant", lr: 1e-3 });
  });

  test("bad settings are errors naming the flag and the value", () => {
    expect(() => resolveSchedule({ kind: "step" }, 1e-3, 50)).toThrow("--schedule step: --step-size must be a positive integer, got undefined");
    expect(() => resolveSchedule({ kind: "cosine", warmupSteps: 50 }, 1e-3, 50)).toThrow("--schedule cosine: --warmup-steps must be an integer in [0, 50) (the total steps), got 50");
    expect(() => resolveSchedule({ kind: "cosine", minLr: 1 }, 1e-3, 50)).toThrow("--min-lr must be in [0, lr = 0.001], got 1");
    expect(() => resolveSchedule({ kind: "onecycle", totalSteps: 3 }, 1e-3, 50)).toThrow("--total-steps must be at least 4");
  });
});

describe("alexc train --schedule (LeNet, 64 synthetic images, batch 16: 4 steps an epoch)", () => {
  const T = { timeoutMs: 120_000 };
  let synth: string;
  beforeAll(() => {
    synth = tmp.sub("synth");
    writeSyntheticData(synth, 64, 32);
  });
  const small = () => ["--data", synth, "--train-limit", "64", "--test-limit", "32", "--batch-size", "16", "--threads", "1"];
  const train = (args: readonly string[]) => runAlexc(["train", "models/lenet.ts", ...small(), ...args], T);
  const stepLines = (dir: string) =>
    lines(fs.readFileSync(path.join(dir, "metrics.jsonl"), "utf8"))
      .map((l) => JSON.parse(l) as { type: string; step: number; loss: number; lr: number })
      .filter((m) => m.type === "step");

  test("a one-cycle run stopped after epoch 1 and resumed ends with the straight run's weights; each step logs its lr", () => {
    const sched = ["--lr", "0.01", "--schedule", "onecycle", "--total-steps", "8"];
    const a = tmp.sub("straight");
    const b = tmp.sub("resumed");
    for (const r of [train([...sched, "--epochs", "2", "--out", a]), train([...sched, "--epochs", "1", "--out", b]), train([...sched, "--epochs", "2", "--resume", "--out", b])]) {
      if (r.status !== 0) throw new Error(describeResult(r));
    }
    const ca = loadCheckpoint(path.join(a, "checkpoint.ckpt"));
    const cb = loadCheckpoint(path.join(b, "checkpoint.ckpt"));
    expect(cb.meta.step).toBe(8);
    expect(ca.meta.config.schedule).toEqual({ kind: "onecycle", lr: 0.01, totalSteps: 8 });
    for (const [name, t] of ca.tensors) {
      const u = cb.tensors.get(name)!;
      expect(Buffer.from(u.data.buffer, u.data.byteOffset, u.data.byteLength).equals(Buffer.from(t.data.buffer, t.data.byteOffset, t.data.byteLength))).toBe(true);
    }
    const s = resolveSchedule({ kind: "onecycle", totalSteps: 8 }, 0.01, 8);
    expect(stepLines(a).map((m) => m.lr)).toEqual([0, 1, 2, 3, 4, 5, 6, 7].map((k) => lrAt(s, k)));
    expect(stepLines(b)).toEqual(stepLines(a));
    // Resuming without the schedule's flags is allowed, and said.
    const c = tmp.sub("changed");
    for (const r of [train([...sched, "--epochs", "1", "--out", c]), train(["--lr", "0.01", "--epochs", "2", "--resume", "--out", c])]) {
      if (r.status !== 0) throw new Error(describeResult(r));
      if (r.stdout.includes("resumed from")) expect(r.stdout).toMatch(/note: the checkpoint's run had lr schedule onecycle \(8 steps.*\), this run uses constant/);
    }
  });

  test("the schedule reaches the step: a cosine run's weights differ from a constant run's, and --steps-per-run 2 feeds each run its first step's lr", () => {
    const c = tmp.sub("constant");
    const s = tmp.sub("cosine");
    const k2 = tmp.sub("cosine-k2");
    for (const r of [
      train(["--lr", "1e-3", "--epochs", "1", "--out", c]),
      train(["--lr", "1e-3", "--epochs", "1", "--schedule", "cosine", "--warmup-steps", "1", "--out", s]),
      train(["--lr", "1e-3", "--epochs", "1", "--schedule", "cosine", "--warmup-steps", "1", "--steps-per-run", "2", "--out", k2]),
    ]) {
      if (r.status !== 0) throw new Error(describeResult(r));
    }
    expect(stepLines(c).map((m) => m.lr)).toEqual([1e-3, 1e-3, 1e-3, 1e-3]);
    const sched = resolveSchedule({ kind: "cosine", warmupSteps: 1 }, 1e-3, 4);
    expect(stepLines(s).map((m) => m.lr)).toEqual([0, 1, 2, 3].map((k) => lrAt(sched, k)));
    expect(stepLines(k2).map((m) => m.lr)).toEqual([0, 0, 2, 2].map((k) => lrAt(sched, k)));
    expect(stepLines(s).map((m) => m.loss)).not.toEqual(stepLines(c).map((m) => m.loss));
    expect(loadCheckpoint(path.join(c, "checkpoint.ckpt")).meta.config).not.toHaveProperty("schedule");
  });

  test.each([
    [["--schedule", "step"], /--schedule step: --step-size must be a positive integer, got undefined/],
    [["--schedule", "cosine", "--warmup-steps", "4"], /--schedule cosine: --warmup-steps must be an integer in \[0, 4\) \(the total steps\), got 4/],
    [["--warmup-steps", "10"], /--warmup-steps applies to --schedule cosine, not constant/],
  ])("bad schedule flags %j: one error line, exit 64, before any training", (flags, re) => {
    const out = tmp.sub("bad");
    const r = train([...flags, "--epochs", "1", "--out", out]);
    expect(r.status).toBe(64);
    const err = lines(r.stderr);
    if (err.length !== 1 || !re.test(err[0])) throw new Error(`expected one stderr line matching ${re}, got:\n${describeResult(r)}`);
    expect(fs.existsSync(path.join(out, "metrics.jsonl"))).toBe(false);
  });

  test("an unknown schedule is a usage error", () => {
    const r = train(["--schedule", "linear", "--out", tmp.sub("unknown")]);
    expect(r.status).not.toBe(0);
    expect(r.stderr).toMatch(/schedule.*Choices: "constant", "step", "cosine", "onecycle"/s);
  });
});
