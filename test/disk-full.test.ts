/**
 * A full disk and a read-only output folder (issue 22), on a small tmpfs: `alexc train` stops with
 * one clear line (exit 4), the previous checkpoint stays byte for byte as it was, and no temp file
 * is left. Mounting needs root; where the environment does not allow it the cases are skipped with
 * the reason printed.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { describeResult, lines, runAlexc, type CliResult } from "./helpers/cli";
import { tempFiles } from "./helpers/kill-run";
import { makeTmpDir } from "./helpers/tmp";
import { writeSyntheticData } from "./helpers/train-idx";

const tmp = makeTmpDir("disk-full");
const mnt = tmp.sub("mnt");
/** 4 MiB: room for LeNet's checkpoint (0.7 MB), model (0.8 MB) and a filler. */
const mount = spawnSync("mount", ["-t", "tmpfs", "-o", "size=4m", "tmpfs", mnt], { encoding: "utf8" });
const mounted = mount.status === 0;
if (!mounted) console.warn(`disk-full tests skipped: cannot mount a tmpfs (${(mount.stderr || mount.error?.message || "").trim()})`);
const withTmpfs = mounted ? test : test.skip;

afterAll(() => {
  if (mounted) spawnSync("umount", [mnt]);
  tmp.remove();
});

const data = tmp.sub("data");
writeSyntheticData(data, 64, 32);
const out = path.join(mnt, "run");
const ckpt = path.join(out, "checkpoint.ckpt");
const train = (more: string[]) =>
  runAlexc(["train", "models/lenet.ts", "--data", data, "--train-limit", "64", "--test-limit", "32", "--batch-size", "16", "--threads", "1", "--out", out, ...more], { timeoutMs: 120_000 });

function expectOneLine(r: CliResult, re: RegExp): void {
  if (r.status !== 4 || lines(r.stderr).length !== 1 || !re.test(r.stderr)) throw new Error(`expected exit 4 and one line matching ${re}:\n${describeResult(r)}`);
  expect(r.stderr).not.toMatch(/\n\s+at /);
}

withTmpfs("disk full at the checkpoint write: one line, exit 4, the previous checkpoint intact, no temp file", () => {
  const first = train(["--epochs", "1"]);
  if (first.status !== 0) throw new Error(describeResult(first));
  const before = fs.readFileSync(ckpt);
  const free = fs.statfsSync(mnt);
  fs.writeFileSync(path.join(mnt, "filler"), Buffer.alloc(free.bavail * free.bsize - 100_000));
  const r = train(["--epochs", "2", "--resume"]);
  expectOneLine(r, /^alexc: cannot write .*checkpoint\.ckpt: ENOSPC no space left on device$/m);
  expect(fs.readFileSync(ckpt).equals(before)).toBe(true);
  expect(tempFiles(out)).toEqual([]);
  fs.rmSync(path.join(mnt, "filler"));
});

withTmpfs("read-only output folder: one line, exit 4, the checkpoint intact; export to it fails the same way", () => {
  const before = fs.readFileSync(ckpt);
  const remount = spawnSync("mount", ["-o", "remount,ro", mnt], { encoding: "utf8" });
  expect(remount.stderr).toBe("");
  try {
    expectOneLine(train(["--epochs", "2", "--resume"]), /^alexc: --out .*: not a writable directory \(EROFS\)$/m);
    expect(fs.readFileSync(ckpt).equals(before)).toBe(true);
    const exported = runAlexc(["export", path.join(out, "lenet.onnx"), "-o", path.join(out, "infer.onnx")]);
    expectOneLine(exported, /^alexc: cannot write .*infer\.onnx: EROFS read-only file system$/m);
  } finally {
    spawnSync("mount", ["-o", "remount,rw", mnt]);
  }
});
