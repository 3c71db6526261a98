/** Small synthetic FashionMNIST-format (IDX) data sets for the trainer tests. */
import * as fs from "fs";
import * as path from "path";
import * as zlib from "zlib";

export const IDX_NAMES = {
  trainImages: "train-images-idx3-ubyte",
  trainLabels: "train-labels-idx1-ubyte",
  testImages: "t10k-images-idx3-ubyte",
  testLabels: "t10k-labels-idx1-ubyte",
} as const;

export function idxImages(pixels: Uint8Array, count: number): Buffer {
  const head = Buffer.alloc(16);
  head.writeUInt32BE(0x00000803, 0);
  head.writeUInt32BE(count, 4);
  head.writeUInt32BE(28, 8);
  head.writeUInt32BE(28, 12);
  return Buffer.concat([head, Buffer.from(pixels)]);
}

export function idxLabels(labels: Uint8Array): Buffer {
  const head = Buffer.alloc(8);
  head.writeUInt32BE(0x00000801, 0);
  head.writeUInt32BE(labels.length, 4);
  return Buffer.concat([head, Buffer.from(labels)]);
}

/** An in-memory synthetic split (28×28 images, labels 0..9) for calling the trainer in process. */
export function syntheticSplit(count: number, seed: number) {
  return {
    images: Uint8Array.from({ length: count * 784 }, (_, i) => (i * 31 + seed) % 256),
    labels: Uint8Array.from({ length: count }, (_, i) => (i + seed) % 10),
    count,
    rows: 28 as const,
    cols: 28 as const,
  };
}

/** Writes a raw (uncompressed) synthetic data set: `train` and `test` images with labels 0..9. */
export function writeSyntheticData(dir: string, train: number, test: number, seed = 1): void {
  fs.mkdirSync(dir, { recursive: true });
  let s = seed >>> 0;
  const byte = () => {
    s = (Math.imul(s, 1103515245) + 12345) >>> 0;
    return s >>> 24;
  };
  const split = (n: number, images: string, labels: string) => {
    fs.writeFileSync(path.join(dir, images), idxImages(Uint8Array.from({ length: n * 784 }, byte), n));
    fs.writeFileSync(path.join(dir, labels), idxLabels(Uint8Array.from({ length: n }, () => byte() % 10)));
  };
  split(train, IDX_NAMES.trainImages, IDX_NAMES.trainLabels);
  split(test, IDX_NAMES.testImages, IDX_NAMES.testLabels);
}

export function gzip(buf: Buffer): Buffer {
  return zlib.gzipSync(buf);
}
