/** Runs test/reference/torch_ref.py and the ONNX checker for the training tests. */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { readNpy, writeNpy, NpyArray } from "./npy";

export const PYTHON = "/usr/bin/python3";
const ROOT = path.resolve(__dirname, "..", "..");
export const TORCH_REF = path.join(ROOT, "test", "reference", "torch_ref.py");
export const ONNX_CHECK = path.join(ROOT, "test", "reference", "onnx_check.py");

export function runPython(args: readonly string[], timeoutMs = 300_000): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, args as string[], { encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/**
 * One `torch_ref.py step` on `images`/`labels`; returns every array of its OUT.npz by key
 * (loss, correct, grad/NAME, param/NAME). The .npz is packed and unpacked with numpy.
 */
export function torchStep(
  dir: string,
  model: string,
  images: Uint8Array,
  labels: BigInt64Array,
  opts: { optimizer: "adam" | "adamw" | "sgd"; lr: number; momentum?: number; weightDecay?: number; labelSmoothing?: number; resize: number },
): Map<string, NpyArray> {
  const batch = packBatch(dir, images, labels);
  const out = path.join(dir, "out.npz");
  const args = [TORCH_REF, "step", model, batch, out, "--optimizer", opts.optimizer, "--lr", String(opts.lr), "--resize", String(opts.resize)];
  if (opts.momentum !== undefined) args.push("--momentum", String(opts.momentum));
  if (opts.weightDecay !== undefined) args.push("--weight-decay", String(opts.weightDecay));
  if (opts.labelSmoothing !== undefined) args.push("--label-smoothing", String(opts.labelSmoothing));
  ok(runPython(args), "torch_ref.py step");
  return unpackNpz(out, path.join(dir, "out"));
}

/** Writes `images` (uint8 [n,1,28,28]) and `labels` as dir/batch.npz, the references' batch file. */
export function packBatch(dir: string, images: Uint8Array, labels: BigInt64Array): string {
  const n = labels.length;
  writeNpy(path.join(dir, "images.npy"), images, [n, 1, 28, 28]);
  writeNpy(path.join(dir, "labels.npy"), labels, [n]);
  const batch = path.join(dir, "batch.npz");
  ok(
    runPython(["-c", "import sys, numpy as np; np.savez(sys.argv[1], images=np.load(sys.argv[2]), labels=np.load(sys.argv[3]))", batch, path.join(dir, "images.npy"), path.join(dir, "labels.npy")]),
    "packing batch.npz",
  );
  return batch;
}

/** Every array of an .npz by key, unpacked with numpy into `into`. */
export function unpackNpz(file: string, into: string): Map<string, NpyArray> {
  fs.mkdirSync(into, { recursive: true });
  const unpack =
    "import sys, os, numpy as np\nd = np.load(sys.argv[1])\nfor i, k in enumerate(d.files):\n" +
    "    np.save(os.path.join(sys.argv[2], '%d.npy' % i), np.ascontiguousarray(d[k]))\nprint('\\n'.join(d.files))";
  const r = runPython(["-c", unpack, file, into]);
  ok(r, "unpacking out.npz");
  const keys = r.stdout.split("\n").filter((k) => k.length > 0);
  return new Map(keys.map((k, i) => [k, readNpy(path.join(into, `${i}.npy`))]));
}

export function ok(r: { status: number | null; stdout: string; stderr: string }, what: string): void {
  if (r.status !== 0) throw new Error(`${what} failed (exit ${r.status})\n${r.stdout}\n${r.stderr}`);
}

export function onnxCheck(file: string): { status: number | null; stdout: string; stderr: string } {
  return runPython([ONNX_CHECK, file], 120_000);
}
