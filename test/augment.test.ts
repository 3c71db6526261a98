/**
 * Training augmentation (src/train/data/augment*.ts): each pixel operation equals torchvision's
 * functional transform on a PIL image (Debian's python3-torchvision) for fixed parameters, the
 * draws are deterministic per seed and per batch, a resumed augmented run equals a straight one,
 * evaluation sees the images as they are, and bad settings stop before training (exit 64).
 */
import "./helpers/train-realm";
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { Rng } from "../src/graph/random";
import { adjustBrightness, adjustContrast, cropPadded, erase, flipHorizontal } from "../src/train/data/augment-ops";
import { augmentBatches, augmentImage, erasingBox, resolveAugment, type Augmentation } from "../src/train/data/augment";
import { loadFashionMnist } from "../src/train/data/fashion-mnist";
import { loadCheckpoint } from "../src/train/checkpoint";
import { describeResult, lines, runAlexc } from "./helpers/cli";
import { runOrtNode } from "./helpers/logits";
import { PYTHON } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const REAL_DATA = "/usr/share/datasets/fashion-mnist";
const ROWS = 28;
const COLS = 28;
const ALL: Augmentation = { cropPadding: 4, flip: true, brightness: 0.4, contrast: 0.4, erasing: 0.5 };

const data = loadFashionMnist(REAL_DATA, { trainLimit: 64, testLimit: 1 });
const image = (i: number) => data.train.images.slice(i * ROWS * COLS, (i + 1) * ROWS * COLS);

type Case = { image: number[]; op: string; [k: string]: unknown };

function torchvision(cases: Case[]): Uint8Array[] {
  const r = spawnSync(PYTHON, [path.join(__dirname, "reference", "augment_ref.py")], {
    input: JSON.stringify({ rows: ROWS, cols: COLS, cases }),
    encoding: "utf8",
    maxBuffer: 64 * 1024 * 1024,
  });
  if (r.status !== 0) throw new Error(`augment_ref.py exited ${r.status}:\n${r.stderr}`);
  return (JSON.parse(r.stdout) as { images: number[][] }).images.map((a) => Uint8Array.from(a));
}

describe("pixel operations equal torchvision's functional transforms (PIL images)", () => {
  const rng = new Rng(7);
  const cases: { case: Case; ours: Uint8Array }[] = [];
  for (let i = 0; i < 48; i++) {
    const src = i % 8 === 7 ? Uint8Array.from({ length: ROWS * COLS }, () => rng.nextInt(256)) : image(i);
    const padding = 1 + rng.nextInt(6);
    const crop = { padding, top: rng.nextInt(2 * padding + 1), left: rng.nextInt(2 * padding + 1) };
    cases.push({ case: { image: [...src], op: "crop", ...crop }, ours: cropPadded(src, ROWS, COLS, crop.padding, crop.top, crop.left) });
    const flipped = src.slice();
    flipHorizontal(flipped, ROWS, COLS);
    cases.push({ case: { image: [...src], op: "hflip" }, ours: flipped });
    for (const op of ["brightness", "contrast"] as const) {
      const factor = rng.nextFloat() * 2;
      const out = src.slice();
      (op === "brightness" ? adjustBrightness : adjustContrast)(out, factor);
      cases.push({ case: { image: [...src], op, factor }, ours: out });
    }
    const box = erasingBox(rng, ROWS, COLS) ?? { top: 0, left: 0, height: 1, width: 1 };
    const erased = src.slice();
    erase(erased, COLS, box);
    cases.push({ case: { image: [...src], op: "erase", ...box }, ours: erased });
  }
  const reference = torchvision(cases.map((c) => c.case));

  test.each(["crop", "hflip", "brightness", "contrast", "erase"])("%s: every pixel of 48 images (FashionMNIST and noise)", (op) => {
    const mine = cases.map((c, i) => ({ ...c, ref: reference[i] })).filter((c) => c.case.op === op);
    expect(mine.length).toBe(48);
    for (const c of mine) {
      const bad = c.ours.findIndex((v, i) => v !== c.ref[i]);
      if (bad >= 0) throw new Error(`${op} ${JSON.stringify({ ...c.case, image: undefined })}: pixel ${bad} is ${c.ours[bad]}, torchvision ${c.ref[bad]}`);
    }
  });
});

describe("draws", () => {
  test("deterministic per seed and batch; another seed or batch draws differently", () => {
    const once = (seed: number, batchIndex: number) => {
      const images = data.train.images.slice(0, 16 * ROWS * COLS);
      augmentBatches(images, [16], ROWS, COLS, ALL, { seed, epoch: 0, batchIndex });
      return Buffer.from(images);
    };
    expect(once(3, 5).equals(once(3, 5))).toBe(true);
    expect(once(3, 5).equals(once(4, 5))).toBe(false);
    expect(once(3, 5).equals(once(3, 6))).toBe(false);
    expect(once(3, 5).equals(Buffer.from(data.train.images.slice(0, 16 * ROWS * COLS)))).toBe(false);
  });

  test("batches augmented together (K steps per run) equal the same batches one at a time", () => {
    const both = data.train.images.slice(0, 24 * ROWS * COLS);
    augmentBatches(both, [16, 8], ROWS, COLS, ALL, { seed: 1, epoch: 2, batchIndex: 3 });
    const first = data.train.images.slice(0, 16 * ROWS * COLS);
    const second = data.train.images.slice(16 * ROWS * COLS, 24 * ROWS * COLS);
    augmentBatches(first, [16], ROWS, COLS, ALL, { seed: 1, epoch: 2, batchIndex: 3 });
    augmentBatches(second, [8], ROWS, COLS, ALL, { seed: 1, epoch: 2, batchIndex: 4 });
    expect(Buffer.from(both).equals(Buffer.concat([first, second]))).toBe(true);
  });

  test("each transform alone changes images and draws its parameters in range", () => {
    const rng = new Rng(11);
    for (const a of [{ cropPadding: 3 }, { flip: true }, { brightness: 0.5 }, { contrast: 0.5 }, { erasing: 1 }]) {
      const aug = resolveAugment(a, ROWS, COLS, (k) => k)!;
      let changed = 0;
      for (let i = 0; i < 32; i++) if (!Buffer.from(augmentImage(image(i), ROWS, COLS, aug, rng)).equals(Buffer.from(image(i)))) changed++;
      expect([JSON.stringify(a), changed > 8]).toEqual([JSON.stringify(a), true]);
    }
    for (let i = 0; i < 2000; i++) {
      const box = erasingBox(rng, ROWS, COLS);
      if (!box) continue;
      const area = (box.height * box.width) / (ROWS * COLS);
      expect(box.top + box.height <= ROWS && box.left + box.width <= COLS && area > 0.005 && area < 0.45).toBe(true);
    }
  });

  test("a spec that changes nothing resolves to none", () => {
    expect(resolveAugment({ cropPadding: 0, flip: false, erasing: 0 }, ROWS, COLS, (k) => k)).toBeUndefined();
    expect(resolveAugment(undefined, ROWS, COLS, (k) => k)).toBeUndefined();
  });
});

describe("alexc train with augmentation", () => {
  const tmp = makeTmpDir("alexc-augment-");
  afterAll(() => tmp.remove());
  const SMALL = ["--data", REAL_DATA, "--train-limit", "96", "--test-limit", "200", "--batch-size", "32", "--threads", "1"];
  const AUG = ["--crop-padding", "3", "--flip", "--brightness", "0.3", "--contrast", "0.3", "--erasing", "0.5"];
  const train = (args: string[]) => {
    const r = runAlexc(["train", "models/lenet.ts", ...SMALL, ...AUG, ...args], { timeoutMs: 120_000 });
    if (r.status !== 0) throw new Error(describeResult(r));
    return r;
  };

  test("resume is exact, and evaluation sees the test images as they are", async () => {
    const a = tmp.sub("straight");
    const b = tmp.sub("resumed");
    const straight = lines(train(["--epochs", "2", "--out", a]).stdout);
    expect(straight[0]).toContain("augment RandomCrop(padding=3), RandomHorizontalFlip, ColorJitter(brightness=0.3, contrast=0.3), RandomErasing(p=0.5)");
    train(["--epochs", "1", "--out", b]);
    train(["--epochs", "2", "--resume", "--out", b]);
    for (const [name, t] of loadCheckpoint(path.join(a, "checkpoint.ckpt")).tensors) {
      expect([name, Buffer.from(loadCheckpoint(path.join(b, "checkpoint.ckpt")).tensors.get(name)!.data.buffer).equals(Buffer.from(t.data.buffer))]).toEqual([name, true]);
    }
    // The trained model, run by onnxruntime on the raw test images, scores what the run logged.
    const epochs = lines(fs.readFileSync(path.join(a, "metrics.jsonl"), "utf8")).map((l) => JSON.parse(l)).filter((m) => m.type === "epoch");
    const test = loadFashionMnist(REAL_DATA, { trainLimit: 1, testLimit: 200 }).test;
    const { data: logits } = await runOrtNode(path.join(a, "lenet.onnx"), Float32Array.from(test.images, (v) => v / 255), [test.count, 1, ROWS, COLS]);
    let correct = 0;
    for (let i = 0; i < test.count; i++) {
      const row = Array.from(logits.subarray(i * 10, i * 10 + 10));
      if (row.indexOf(Math.max(...row)) === test.labels[i]) correct++;
    }
    expect(correct / test.count).toBe(epochs[1].test_acc);
    // The per-epoch table on stdout and metrics.csv (appended to by the resumed run) carry the same epochs.
    expect(straight).toContain("epoch    train_loss  train_acc  test_acc     img/s      time");
    for (const e of epochs) expect(straight.some((l) => l.startsWith(`${e.epoch}/2`) && l.includes(e.test_acc.toFixed(4)))).toBe(true);
    for (const dir of [a, b]) {
      const csv = lines(fs.readFileSync(path.join(dir, "metrics.csv"), "utf8"));
      expect(csv[0]).toBe("epoch,train_loss,train_acc,test_acc,img_per_s,time_s");
      expect(csv.slice(1).map((r) => r.split(",").slice(0, 4).map(Number))).toEqual(epochs.map((e) => [e.epoch, e.train_loss, e.train_acc, e.test_acc]));
    }
  });

  test.each([
    [["--crop-padding", "28"], /--crop-padding 28 would crop windows larger than the 28×28 image/],
    [["--crop-padding", "1.5"], /--crop-padding must be a whole number/],
    [["--erasing", "1.5"], /--erasing is a probability in \[0, 1\], got 1.5/],
    [["--brightness", "-0.1"], /--brightness must be in \[0, 1\]/],
  ])("bad setting %j: one line, exit 64, nothing written", (flags, message) => {
    const out = tmp.sub(`bad-${flags.join("")}`);
    fs.rmSync(out, { recursive: true, force: true });
    const r = runAlexc(["train", "models/lenet.ts", ...SMALL, ...flags, "--out", out]);
    expect(r.status).toBe(64);
    expect(lines(r.stderr)).toEqual([expect.stringMatching(message)]);
    expect(fs.existsSync(out)).toBe(false);
  });
});
