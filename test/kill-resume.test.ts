/**
 * kill -9 of `alexc train` at each kind of point, then --resume (issue 22; scripts/kill-soak.ts is
 * the long random version): during the first checkpoint write (nothing to resume, said in one
 * line), during an evaluation, during a later checkpoint write, during the final model write, and
 * after a delay. After every kill the checkpoint loads and no truncated .onnx is at the final path;
 * the run that finishes ends with the straight run's lenet.onnx, byte for byte, and no temp file.
 */
import * as fs from "fs";
import * as path from "path";
import { loadCheckpoint } from "../src/train/checkpoint";
import { lines } from "./helpers/cli";
import { isNothingToResume, sameBytes, tempFiles, trainKilled, type KillAt } from "./helpers/kill-run";
import { makeTmpDir } from "./helpers/tmp";
import { writeSyntheticData } from "./helpers/train-idx";

const tmp = makeTmpDir("kill-resume");
afterAll(() => tmp.remove());

let data: string;
let reference: string;
const args = (out: string) => ["models/lenet.ts", "--data", data, "--train-limit", "256", "--test-limit", "64", "--batch-size", "32", "--epochs", "2", "--threads", "1", "--out", out];

beforeAll(async () => {
  data = tmp.sub("data");
  writeSyntheticData(data, 256, 64);
  const straight = tmp.sub("straight");
  const r = await trainKilled(args(straight), "never");
  if (r.status !== 0) throw new Error(r.stderr);
  reference = path.join(straight, "lenet.onnx");
}, 120_000);

/** One kill, then what must hold whatever the point: a loadable checkpoint (or none), no partial model. */
async function killAt(out: string, at: KillAt, resume: boolean): Promise<void> {
  const r = await trainKilled([...args(out), ...(resume ? ["--resume"] : [])], at);
  if (!r.killed) throw new Error(`not killed at ${JSON.stringify(at)}: exit ${r.status}\n${r.stderr}`);
  const ckpt = path.join(out, "checkpoint.ckpt");
  if (fs.existsSync(ckpt)) loadCheckpoint(ckpt);
  const model = path.join(out, "lenet.onnx");
  if (fs.existsSync(model)) expect(sameBytes(model, reference)).toBe(true);
}

test("killed at every kind of point and resumed each time, the run ends with the straight run's weights, byte for byte", async () => {
  const out = tmp.sub("killed");
  const ckpt = path.join(out, "checkpoint.ckpt");
  await killAt(out, { pauseAt: "write:checkpoint.ckpt" }, false);
  expect(fs.existsSync(ckpt)).toBe(false);
  expect(tempFiles(out).length).toBe(1);
  const nothing = await trainKilled([...args(out), "--resume"], "never");
  expect(isNothingToResume(nothing)).toBe(true);
  expect(lines(nothing.stderr).length).toBe(1);

  await killAt(out, { pauseAt: "evaluate#3" }, false); // the second epoch's evaluation
  expect(loadCheckpoint(ckpt).meta.epoch).toBe(1);
  await killAt(out, { pauseAt: "write:checkpoint.ckpt" }, true);
  expect(loadCheckpoint(ckpt).meta.epoch).toBe(1);
  await killAt(out, { pauseAt: "write:lenet.onnx" }, true);
  expect(loadCheckpoint(ckpt).meta.epoch).toBe(2);
  expect(fs.existsSync(path.join(out, "lenet.onnx"))).toBe(false);
  await killAt(out, { afterMs: 500 }, true);

  const done = await trainKilled([...args(out), "--resume"], "never");
  expect(done.status).toBe(0);
  expect(sameBytes(path.join(out, "lenet.onnx"), reference)).toBe(true);
  expect(tempFiles(out)).toEqual([]);
}, 180_000);
