/**
 * FashionMNIST: locating the four IDX files (system package, user cache, or a fetched Debian
 * package) and loading them into train/test splits of 28x28 uint8 images with labels 0..9.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import { DataError } from "./errors";
import { readIdxImages, readIdxLabels } from "./idx";

export interface Split {
  /** count*28*28 pixels, row-major per image. */
  images: Uint8Array;
  /** count labels in 0..9, indices into FASHION_MNIST_CLASSES. */
  labels: Uint8Array;
  count: number;
  rows: 28;
  cols: 28;
}

export const FASHION_MNIST_CLASSES = [
  "T-shirt/top",
  "Trouser",
  "Pullover",
  "Dress",
  "Coat",
  "Sandal",
  "Shirt",
  "Sneaker",
  "Bag",
  "Ankle boot",
] as const;

/** Where Debian's dataset-fashion-mnist package installs the files. */
export const DEFAULT_DATA_DIR = "/usr/share/datasets/fashion-mnist";

const DEBIAN_PACKAGE = "dataset-fashion-mnist";

/** Base names; each may also be present with a `.gz` suffix. */
export const FASHION_MNIST_FILES = {
  train: { images: "train-images-idx3-ubyte", labels: "train-labels-idx1-ubyte" },
  test: { images: "t10k-images-idx3-ubyte", labels: "t10k-labels-idx1-ubyte" },
} as const;

const ALL_BASE_NAMES = [
  FASHION_MNIST_FILES.train.images,
  FASHION_MNIST_FILES.train.labels,
  FASHION_MNIST_FILES.test.images,
  FASHION_MNIST_FILES.test.labels,
];

export interface LoadOptions {
  /** Keep only the first N training items (for quick runs); all when absent. */
  trainLimit?: number;
  /** Keep only the first N test items; all when absent. */
  testLimit?: number;
}

export function loadFashionMnist(dir: string, opts: LoadOptions = {}): { train: Split; test: Split } {
  return {
    train: loadSplit(dir, FASHION_MNIST_FILES.train, opts.trainLimit, "trainLimit"),
    test: loadSplit(dir, FASHION_MNIST_FILES.test, opts.testLimit, "testLimit"),
  };
}

function loadSplit(
  dir: string,
  files: { images: string; labels: string },
  limit: number | undefined,
  limitName: string,
): Split {
  if (limit !== undefined && !(Number.isInteger(limit) && limit >= 1)) {
    throw new DataError(`${limitName} must be a positive integer, got ${limit}`);
  }
  const imagesPath = findIdxFile(dir, files.images);
  const labelsPath = findIdxFile(dir, files.labels);
  const images = readIdxImages(imagesPath, { expectDims: [28, 28] });
  const labels = readIdxLabels(labelsPath, { numClasses: FASHION_MNIST_CLASSES.length });
  if (images.count !== labels.count) {
    throw new DataError(
      `label count does not match image count: ${labelsPath} holds ${labels.count} labels but ${imagesPath} holds ${images.count} images`,
    );
  }
  const count = limit === undefined ? images.count : Math.min(limit, images.count);
  const pixelsPerImage = 28 * 28;
  return {
    // slice (copy) only when limiting, so the unused tail can be freed
    images: count === images.count ? images.pixels : images.pixels.slice(0, count * pixelsPerImage),
    labels: count === labels.count ? labels.labels : labels.labels.slice(0, count),
    count,
    rows: 28,
    cols: 28,
  };
}

/** The path of `base` or `base.gz` in dir (raw preferred); DataError when neither exists. */
export function findIdxFile(dir: string, base: string): string {
  for (const name of [base, base + ".gz"]) {
    const p = path.join(dir, name);
    if (isFile(p)) return p;
  }
  throw new DataError(`${path.join(dir, base)}: file not found (also tried ${base}.gz)`);
}

/** Base names of the four IDX files that are absent (in both raw and .gz form) from dir. */
function missingFiles(dir: string): string[] {
  return ALL_BASE_NAMES.filter((b) => !isFile(path.join(dir, b)) && !isFile(path.join(dir, b + ".gz")));
}

function isFile(p: string): boolean {
  try {
    return fs.statSync(p).isFile();
  } catch {
    return false;
  }
}

function isDir(p: string): boolean {
  try {
    return fs.statSync(p).isDirectory();
  } catch {
    return false;
  }
}

export interface ResolveOptions {
  /** Overrides DEFAULT_DATA_DIR (for tests). */
  defaultDir?: string;
  /** Overrides the cache root `$XDG_CACHE_HOME/alexc` or `~/.cache/alexc` (for tests). */
  cacheDir?: string;
}

/**
 * Picks the directory holding the four FashionMNIST IDX files: `dir` when given, else the system
 * package's directory, else a per-user cache, which is filled from the Debian package on first use.
 */
export function resolveDataDir(
  dir: string | undefined,
  log: (msg: string) => void,
  opts: ResolveOptions = {},
): string {
  if (dir !== undefined) {
    if (!isDir(dir)) throw new DataError(`${dir}: data directory not found`);
    const missing = missingFiles(dir);
    if (missing.length > 0) {
      throw new DataError(`${dir}: missing ${missing.length} of 4 FashionMNIST files: ${missing.join(", ")} (raw or .gz)`);
    }
    return dir;
  }

  const defaultDir = opts.defaultDir ?? DEFAULT_DATA_DIR;
  if (missingFiles(defaultDir).length === 0) return defaultDir;

  const cacheRoot = opts.cacheDir ?? defaultCacheRoot();
  const target = path.join(cacheRoot, "fashion-mnist");
  if (missingFiles(target).length === 0) {
    log(`FashionMNIST: using cached copy in ${target}`);
    return target;
  }

  log(`FashionMNIST: not in ${defaultDir}; fetching Debian package ${DEBIAN_PACKAGE} into ${target}`);
  try {
    fetchDebianPackage(cacheRoot, target);
  } catch (e) {
    const reason = e instanceof Error ? e.message : String(e);
    throw new DataError(
      `FashionMNIST not found: ${defaultDir} does not hold the four IDX files, there is no cached copy in ${target}, ` +
        `and fetching it failed (apt-get download ${DEBIAN_PACKAGE}, then dpkg -x): ${reason}. ` +
        `Install it with "apt-get install ${DEBIAN_PACKAGE}", or pass --data DIR with a directory holding ` +
        `${ALL_BASE_NAMES.join(", ")} (each optionally .gz).`,
    );
  }
  log(`FashionMNIST: fetched ${DEBIAN_PACKAGE} and stored the IDX files in ${target}`);
  return target;
}

function defaultCacheRoot(): string {
  const xdg = process.env.XDG_CACHE_HOME;
  const base = xdg && path.isAbsolute(xdg) ? xdg : path.join(os.homedir(), ".cache");
  return path.join(base, "alexc");
}

/**
 * Downloads and unpacks the .deb inside a temp dir under cacheRoot (same filesystem, so the final
 * rename is atomic: a concurrent or interrupted run never sees a half-filled target).
 * Throws a plain Error describing the failed step; the caller wraps it with install advice.
 */
function fetchDebianPackage(cacheRoot: string, target: string): void {
  fs.mkdirSync(cacheRoot, { recursive: true });
  const tmp = fs.mkdtempSync(path.join(cacheRoot, "fashion-mnist.tmp-"));
  try {
    const downloadDir = path.join(tmp, "download");
    const extractDir = path.join(tmp, "extract");
    fs.mkdirSync(downloadDir);
    run("apt-get", ["download", DEBIAN_PACKAGE], downloadDir);
    const debs = fs.readdirSync(downloadDir).filter((f) => f.endsWith(".deb"));
    if (debs.length !== 1) throw new Error(`expected one .deb in ${downloadDir}, found ${debs.length}`);
    run("dpkg", ["-x", path.join(downloadDir, debs[0]), extractDir], tmp);

    const unpacked = path.join(extractDir, DEFAULT_DATA_DIR);
    const missing = missingFiles(unpacked);
    if (missing.length > 0) throw new Error(`the package lacks ${missing.join(", ")} under ${DEFAULT_DATA_DIR}`);
    try {
      fs.renameSync(unpacked, target);
    } catch (e) {
      // another process may have won the race; its complete copy is as good as ours
      if (missingFiles(target).length > 0) throw e;
    }
  } finally {
    fs.rmSync(tmp, { recursive: true, force: true });
  }
}

function run(cmd: string, args: string[], cwd: string): void {
  // env passed explicitly: the default is the host's environment, which bypasses a sandboxed
  // process.env (jest's), where tests put stand-in tools on PATH
  const r = spawnSync(cmd, args, {
    cwd,
    env: process.env,
    encoding: "utf8",
    stdio: ["ignore", "pipe", "pipe"],
    timeout: 10 * 60 * 1000,
  });
  const shown = `${cmd} ${args.join(" ")}`;
  if (r.error) throw new Error(`${shown}: ${r.error.message}`);
  if (r.status !== 0) {
    const lastLines = (r.stderr || r.stdout || "").trim().split("\n").slice(-3).join(" | ");
    const how = r.status === null ? `killed by ${r.signal}` : `exit status ${r.status}`;
    throw new Error(`${shown} failed (${how})${lastLines ? ": " + lastLines : ""}`);
  }
}
