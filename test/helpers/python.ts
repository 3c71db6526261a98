/**
 * The Python references, run with Debian's interpreter (torch 1.13 CPU, onnx 1.12, numpy):
 * test/reference/onnx_check.py (checker + strict shape inference) and
 * test/reference/torch_ref.py (a PyTorch interpreter of ONNX graphs).
 */
import { spawnSync } from "child_process";
import * as path from "path";
import { REPO_ROOT } from "./cli";

export const PYTHON = "/usr/bin/python3";
const REFERENCE = path.join(REPO_ROOT, "test", "reference");

export interface OnnxCheck {
  ir_version: number;
  opsets: Record<string, number>;
  params: number;
  inputs: Record<string, (number | string)[]>;
  outputs: Record<string, (number | string)[]>;
  value_info: Record<string, (number | string)[]>;
  inferred_value_info: Record<string, (number | string)[]>;
  metadata: Record<string, string>;
  training_info: unknown[];
}

function run(args: string[], timeoutMs: number): { status: number | null; stdout: string; stderr: string } {
  const r = spawnSync(PYTHON, args, { cwd: REPO_ROOT, encoding: "utf8", timeout: timeoutMs, maxBuffer: 64 * 1024 * 1024 });
  if (r.error) throw r.error;
  return { status: r.status, stdout: r.stdout, stderr: r.stderr };
}

/** onnx.checker.check_model(full_check=True) + strict shape inference; throws with the checker's message. */
export function onnxCheck(file: string): OnnxCheck {
  const r = run([path.join(REFERENCE, "onnx_check.py"), file], 120_000);
  if (r.status !== 0) throw new Error(`onnx_check.py ${file} exited ${r.status}:\n${r.stderr}`);
  return JSON.parse(r.stdout) as OnnxCheck;
}

/** torch_ref.py forward MODEL IN.npy OUT.npy; throws with its stderr. */
export function torchForward(model: string, input: string, output: string): void {
  const r = run([path.join(REFERENCE, "torch_ref.py"), "forward", model, input, output], 300_000);
  if (r.status !== 0) throw new Error(`torch_ref.py forward exited ${r.status}:\n${r.stderr}`);
}

/** Runs a short Python program; returns stdout (throws with stderr on failure). */
export function python(code: string, args: string[] = []): string {
  const r = run(["-c", code, ...args], 120_000);
  if (r.status !== 0) throw new Error(`python exited ${r.status}:\n${r.stderr}`);
  return r.stdout;
}
