import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as zlib from "zlib";
import { Rng } from "../src/graph/random";
import { BatchSampler, gatherBatch } from "../src/train/data/batches";
import { DataError } from "../src/train/data/errors";
import {
  DEFAULT_DATA_DIR,
  FASHION_MNIST_CLASSES,
  loadFashionMnist,
  resolveDataDir,
  Split,
} from "../src/train/data/fashion-mnist";
import { readIdxImages, readIdxLabels } from "../src/train/data/idx";

// ---- fixture builders ----

function idxImages(count: number, rows = 28, cols = 28, magic = 0x00000803): Buffer {
  const header = Buffer.alloc(16);
  header.writeUInt32BE(magic, 0);
  header.writeUInt32BE(count, 4);
  header.writeUInt32BE(rows, 8);
  header.writeUInt32BE(cols, 12);
  const body = Buffer.alloc(count * rows * cols);
  // each image's pixels encode its index so tests can tell images apart
  for (let i = 0; i < body.length; i++) body[i] = (Math.floor(i / (rows * cols)) * 7 + (i % 13)) & 0xff;
  return Buffer.concat([header, body]);
}

function idxLabels(labels: number[], magic = 0x00000801): Buffer {
  const header = Buffer.alloc(8);
  header.writeUInt32BE(magic, 0);
  header.writeUInt32BE(labels.length, 4);
  return Buffer.concat([header, Buffer.from(labels)]);
}

let tmpRoot: string;
beforeAll(() => {
  tmpRoot = fs.mkdtempSync(path.join(os.tmpdir(), "alexc-data-test-"));
});
afterAll(() => {
  fs.rmSync(tmpRoot, { recursive: true, force: true });
});

let dirCounter = 0;
function freshDir(): string {
  const d = path.join(tmpRoot, `d${dirCounter++}`);
  fs.mkdirSync(d);
  return d;
}

function write(dir: string, name: string, data: Buffer, gzip = false): string {
  const p = path.join(dir, gzip ? name + ".gz" : name);
  fs.writeFileSync(p, gzip ? zlib.gzipSync(data) : data);
  return p;
}

/** A complete small dataset: 5 train / 3 test items, train files gzipped, test files raw. */
function writeDataset(dir: string): void {
  write(dir, "train-images-idx3-ubyte", idxImages(5), true);
  write(dir, "train-labels-idx1-ubyte", idxLabels([0, 9, 3, 3, 1]), true);
  write(dir, "t10k-images-idx3-ubyte", idxImages(3));
  write(dir, "t10k-labels-idx1-ubyte", idxLabels([2, 4, 8]));
}

/** Runs fn, which must throw a DataError, and returns its message. */
function dataErrorMessage(fn: () => unknown): string {
  try {
    fn();
  } catch (e) {
    expect(e).toBeInstanceOf(DataError);
    return (e as DataError).message;
  }
  throw new Error("expected a DataError, nothing was thrown");
}

// ---- parsing ----

describe("IDX parsing", () => {
  test.each([false, true])("reads images and labels (gzip=%s)", (gzip) => {
    const dir = freshDir();
    const ip = write(dir, "imgs", idxImages(4, 28, 28), gzip);
    const lp = write(dir, "labels", idxLabels([1, 0, 9, 5]), gzip);
    const imgs = readIdxImages(ip, { expectDims: [28, 28] });
    expect([imgs.count, imgs.rows, imgs.cols]).toEqual([4, 28, 28]);
    expect(imgs.pixels.length).toBe(4 * 784);
    expect(Buffer.from(imgs.pixels)).toEqual(idxImages(4).subarray(16));
    const labels = readIdxLabels(lp, { numClasses: 10 });
    expect(labels.count).toBe(4);
    expect(Array.from(labels.labels)).toEqual([1, 0, 9, 5]);
  });

  test("bad magic names the file and both magics", () => {
    const dir = freshDir();
    const p = write(dir, "train-images-idx3-ubyte", idxLabels([1, 2, 3]));
    const msg = dataErrorMessage(() => readIdxImages(p));
    expect(msg).toContain("train-images-idx3-ubyte");
    expect(msg).toContain("0x00000801");
    expect(msg).toContain("0x00000803");

    const q = write(dir, "junk-labels", Buffer.from([0xde, 0xad, 0xbe, 0xef, 0, 0, 0, 0]));
    const msg2 = dataErrorMessage(() => readIdxLabels(q));
    expect(msg2).toContain("junk-labels");
    expect(msg2).toContain("0xdeadbeef");
    expect(msg2).toContain("0x00000801");
  });

  test("truncated images give declared and actual sizes", () => {
    const dir = freshDir();
    const p = write(dir, "train-images-idx3-ubyte", idxImages(3).subarray(0, 16 + 1234), true);
    const msg = dataErrorMessage(() => readIdxImages(p));
    expect(msg).toContain("train-images-idx3-ubyte.gz");
    expect(msg).toContain("truncated");
    expect(msg).toContain("3 images of 28x28 (2352 bytes)");
    expect(msg).toContain("1234 bytes");
  });

  test("truncated labels and a truncated header", () => {
    const dir = freshDir();
    const p = write(dir, "lab", idxLabels([1, 2, 3, 4]).subarray(0, 8 + 2));
    const msg = dataErrorMessage(() => readIdxLabels(p));
    expect(msg).toContain("lab");
    expect(msg).toContain("4 labels (4 bytes)");
    expect(msg).toContain("holds 2 bytes");

    const h = write(dir, "short-header", idxImages(1).subarray(0, 10));
    const msg2 = dataErrorMessage(() => readIdxImages(h));
    expect(msg2).toContain("short-header");
    expect(msg2).toContain("10 bytes");
    expect(msg2).toContain("16");
  });

  test("extra bytes are rejected", () => {
    const dir = freshDir();
    const p = write(dir, "t10k-images-idx3-ubyte", Buffer.concat([idxImages(2), Buffer.alloc(5)]));
    const msg = dataErrorMessage(() => readIdxImages(p));
    expect(msg).toContain("t10k-images-idx3-ubyte");
    expect(msg).toContain("too long");
    expect(msg).toContain("2 images of 28x28 (1568 bytes)");
    expect(msg).toContain("1573 bytes");
    expect(msg).toContain("5 extra");
  });

  test("wrong image size when 28x28 is required", () => {
    const dir = freshDir();
    const p = write(dir, "imgs32", idxImages(2, 32, 30));
    expect(readIdxImages(p).rows).toBe(32); // accepted when no size is asked for
    const msg = dataErrorMessage(() => readIdxImages(p, { expectDims: [28, 28] }));
    expect(msg).toContain("imgs32");
    expect(msg).toContain("32x30");
    expect(msg).toContain("28x28");
  });

  test("label out of range names value and index", () => {
    const dir = freshDir();
    const p = write(dir, "train-labels-idx1-ubyte", idxLabels([0, 9, 10, 3]), true);
    const msg = dataErrorMessage(() => readIdxLabels(p, { numClasses: 10 }));
    expect(msg).toContain("train-labels-idx1-ubyte.gz");
    expect(msg).toContain("label 10 at index 2");
    expect(msg).toContain("0..9");
  });

  test("corrupt and cut-off gzip streams", () => {
    const dir = freshDir();
    const garbage = Buffer.concat([Buffer.from([0x1f, 0x8b, 0x08, 0x00]), Buffer.from("not really deflate data")]);
    const p = path.join(dir, "train-images-idx3-ubyte.gz");
    fs.writeFileSync(p, garbage);
    const msg = dataErrorMessage(() => readIdxImages(p));
    expect(msg).toContain("train-images-idx3-ubyte.gz");
    expect(msg).toContain("corrupt gzip");

    const gz = zlib.gzipSync(idxImages(3));
    const q = path.join(dir, "cut.gz");
    fs.writeFileSync(q, gz.subarray(0, gz.length - 20));
    const msg2 = dataErrorMessage(() => readIdxImages(q));
    expect(msg2).toContain("cut.gz");
    expect(msg2).toContain("corrupt gzip");
  });

  test("missing file", () => {
    const p = path.join(freshDir(), "nope-idx3-ubyte");
    const msg = dataErrorMessage(() => readIdxImages(p));
    expect(msg).toContain("nope-idx3-ubyte");
    expect(msg).toContain("not found");
  });
});

// ---- FashionMNIST loader ----

describe("loadFashionMnist", () => {
  test("loads both splits, raw and gzip", () => {
    const dir = freshDir();
    writeDataset(dir);
    const { train, test: t } = loadFashionMnist(dir);
    expect(train.count).toBe(5);
    expect([train.rows, train.cols]).toEqual([28, 28]);
    expect(train.images.length).toBe(5 * 784);
    expect(Array.from(train.labels)).toEqual([0, 9, 3, 3, 1]);
    expect(t.count).toBe(3);
    expect(Array.from(t.labels)).toEqual([2, 4, 8]);
    expect(Buffer.from(t.images)).toEqual(idxImages(3).subarray(16));
  });

  test("limits keep the first items", () => {
    const dir = freshDir();
    writeDataset(dir);
    const { train, test: t } = loadFashionMnist(dir, { trainLimit: 2, testLimit: 100 });
    expect(train.count).toBe(2);
    expect(train.images.length).toBe(2 * 784);
    expect(Array.from(train.labels)).toEqual([0, 9]);
    expect(t.count).toBe(3);
    expect(dataErrorMessage(() => loadFashionMnist(dir, { trainLimit: 0 }))).toContain("trainLimit");
  });

  test("label count differing from image count names both files and counts", () => {
    const dir = freshDir();
    writeDataset(dir);
    write(dir, "t10k-labels-idx1-ubyte", idxLabels([1, 2]));
    const msg = dataErrorMessage(() => loadFashionMnist(dir));
    expect(msg).toContain("t10k-labels-idx1-ubyte");
    expect(msg).toContain("t10k-images-idx3-ubyte");
    expect(msg).toContain("2 labels");
    expect(msg).toContain("3 images");
  });

  test("missing file names it", () => {
    const dir = freshDir();
    writeDataset(dir);
    fs.unlinkSync(path.join(dir, "train-labels-idx1-ubyte.gz"));
    const msg = dataErrorMessage(() => loadFashionMnist(dir));
    expect(msg).toContain("train-labels-idx1-ubyte");
    expect(msg).toContain("not found");
  });

  test("class names", () => {
    expect(FASHION_MNIST_CLASSES).toHaveLength(10);
    expect(FASHION_MNIST_CLASSES[0]).toBe("T-shirt/top");
    expect(FASHION_MNIST_CLASSES[9]).toBe("Ankle boot");
  });

  test("real FashionMNIST files load with 60000/10000 items", () => {
    // only where Debian's dataset-fashion-mnist is installed
    if (!fs.existsSync(DEFAULT_DATA_DIR)) return;
    const { train, test: t } = loadFashionMnist(DEFAULT_DATA_DIR);
    expect(train.count).toBe(60000);
    expect(t.count).toBe(10000);
    expect(train.images.length).toBe(60000 * 784);
    expect(t.images.length).toBe(10000 * 784);
    // the dataset is balanced: 6000 / 1000 per class
    const perClass = new Array<number>(10).fill(0);
    for (const l of train.labels) perClass[l]++;
    expect(perClass).toEqual(new Array<number>(10).fill(6000));
  });
});

// ---- data directory resolution ----

describe("resolveDataDir", () => {
  const noLog = (): void => {};

  test("an explicit directory is used, or rejected naming what is missing", () => {
    const dir = freshDir();
    writeDataset(dir);
    expect(resolveDataDir(dir, noLog)).toBe(dir);

    const missing = path.join(tmpRoot, "does-not-exist");
    expect(dataErrorMessage(() => resolveDataDir(missing, noLog))).toContain("does-not-exist");

    const partial = freshDir();
    write(partial, "train-images-idx3-ubyte", idxImages(1));
    const msg = dataErrorMessage(() => resolveDataDir(partial, noLog));
    expect(msg).toContain("missing 3 of 4");
    expect(msg).toContain("t10k-labels-idx1-ubyte");
  });

  test("the system directory is preferred when complete", () => {
    const sys = freshDir();
    writeDataset(sys);
    expect(resolveDataDir(undefined, noLog, { defaultDir: sys, cacheDir: freshDir() })).toBe(sys);
  });

  describe("fetching the Debian package", () => {
    let savedPath: string | undefined;
    let binDir: string;
    beforeEach(() => {
      savedPath = process.env.PATH;
      binDir = freshDir();
      process.env.PATH = `${binDir}:${savedPath ?? ""}`;
    });
    afterEach(() => {
      process.env.PATH = savedPath;
    });

    function fakeTool(name: string, script: string): void {
      const p = path.join(binDir, name);
      fs.writeFileSync(p, `#!/bin/sh\n${script}\n`);
      fs.chmodSync(p, 0o755);
    }

    test("downloads, unpacks and moves the files into the cache", () => {
      const payload = freshDir();
      writeDataset(payload);
      // stand-ins: apt-get writes a dummy .deb, dpkg -x "unpacks" the fixture dataset
      fakeTool("apt-get", `[ "$1" = download ] && [ "$2" = dataset-fashion-mnist ] && touch dataset-fashion-mnist_1_all.deb`);
      fakeTool(
        "dpkg",
        `[ "$1" = -x ] || exit 2\nmkdir -p "$3/usr/share/datasets/fashion-mnist" && cp ${payload}/* "$3/usr/share/datasets/fashion-mnist/"`,
      );
      const cache = freshDir();
      const logs: string[] = [];
      const got = resolveDataDir(undefined, (m) => logs.push(m), { defaultDir: path.join(tmpRoot, "no-sys"), cacheDir: cache });
      expect(got).toBe(path.join(cache, "fashion-mnist"));
      expect(fs.readdirSync(cache)).toEqual(["fashion-mnist"]); // temp dir cleaned up
      expect(loadFashionMnist(got).train.count).toBe(5);
      expect(logs.join("\n")).toContain(got);

      // second call uses the cache without running the tools
      fakeTool("apt-get", "exit 1");
      expect(resolveDataDir(undefined, noLog, { defaultDir: path.join(tmpRoot, "no-sys"), cacheDir: cache })).toBe(got);
    });

    test("a failed download explains what was tried and how to install", () => {
      fakeTool("apt-get", `echo "E: Unable to locate package dataset-fashion-mnist" >&2; exit 100`);
      const cache = freshDir();
      const msg = dataErrorMessage(() =>
        resolveDataDir(undefined, noLog, { defaultDir: path.join(tmpRoot, "no-sys"), cacheDir: cache }),
      );
      expect(msg).toContain("apt-get download dataset-fashion-mnist");
      expect(msg).toContain("exit status 100");
      expect(msg).toContain("Unable to locate package");
      expect(msg).toContain("apt-get install dataset-fashion-mnist");
      expect(msg).toContain("--data DIR");
      expect(fs.readdirSync(cache)).toEqual([]);
    });
  });
});

// ---- batching ----

describe("BatchSampler", () => {
  function epochs(seed: number, n: number): number[][] {
    const s = new BatchSampler(10, 4, { shuffle: true, rng: new Rng(seed) });
    const out: number[][] = [];
    for (let e = 0; e < n; e++) out.push([...s.epoch()].flatMap((b) => Array.from(b)));
    return out;
  }

  test("unshuffled batches cover 0..count-1 in order, partial last batch kept", () => {
    const s = new BatchSampler(10, 4, { shuffle: false });
    expect(s.batchesPerEpoch).toBe(3);
    expect([...s.epoch()].map((b) => Array.from(b))).toEqual([[0, 1, 2, 3], [4, 5, 6, 7], [8, 9]]);
    expect(new BatchSampler(8, 4, { shuffle: false }).batchesPerEpoch).toBe(2);
    expect([...new BatchSampler(0, 4, { shuffle: false }).epoch()]).toEqual([]);
  });

  test("shuffle is a permutation, deterministic per seed, different per epoch and seed", () => {
    const a = epochs(42, 3);
    const b = epochs(42, 3);
    expect(a).toEqual(b);
    for (const order of a) expect([...order].sort((x, y) => x - y)).toEqual([0, 1, 2, 3, 4, 5, 6, 7, 8, 9]);
    expect(a[0]).not.toEqual(a[1]);
    expect(epochs(7, 1)[0]).not.toEqual(a[0]);

    const s = new BatchSampler(10, 4, { shuffle: true, rng: new Rng(1) });
    expect([...s.epoch()].map((x) => x.length)).toEqual([4, 4, 2]);
  });

  test("an epoch replays from a saved rng state", () => {
    const rng = new Rng(3);
    const s = new BatchSampler(50, 8, { shuffle: true, rng });
    [...s.epoch()];
    const saved = rng.state();
    const next = [...s.epoch()].map((b) => Array.from(b));
    const replay = new BatchSampler(50, 8, { shuffle: true, rng: new Rng(saved) });
    expect([...replay.epoch()].map((b) => Array.from(b))).toEqual(next);
  });

  test("invalid arguments", () => {
    expect(() => new BatchSampler(10, 0, { shuffle: false })).toThrow(RangeError);
    expect(() => new BatchSampler(10, 2, { shuffle: true })).toThrow(/rng/);
  });
});

describe("gatherBatch", () => {
  test("copies the selected images (B*1*28*28) and int64 labels", () => {
    const images = new Uint8Array(4 * 784);
    for (let i = 0; i < 4; i++) images.fill(10 * (i + 1), i * 784, (i + 1) * 784);
    const split: Split = { images, labels: Uint8Array.from([5, 6, 7, 8]), count: 4, rows: 28, cols: 28 };
    const batch = gatherBatch(split, Int32Array.from([2, 0, 2]));
    expect(batch.images.length).toBe(3 * 784);
    expect([batch.images[0], batch.images[783], batch.images[784], batch.images[2 * 784 + 5]]).toEqual([30, 30, 10, 30]);
    expect(Array.from(batch.labels)).toEqual([7n, 5n, 7n]);
    batch.images[0] = 0;
    expect(images[2 * 784]).toBe(30); // a copy, not a view
    expect(() => gatherBatch(split, Int32Array.from([4]))).toThrow(RangeError);
  });
});
