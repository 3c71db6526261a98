/** Runs the real `alexc` command line (bin/alexc.js) in a child process. */
import { spawnSync } from "child_process";
import * as path from "path";

export const REPO_ROOT = path.resolve(__dirname, "..", "..");
export const ALEXC_BIN = path.join(REPO_ROOT, "bin", "alexc.js");

export interface CliResult {
  readonly status: number | null;
  readonly signal: NodeJS.Signals | null;
  readonly stdout: string;
  readonly stderr: string;
  /** Wall time of the child, milliseconds. */
  readonly ms: number;
}

export function runAlexc(args: readonly string[], opts: { cwd?: string; env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CliResult {
  const env = { ...process.env, ...opts.env };
  if (!opts.env || !("ALEXC_VERBOSE" in opts.env)) delete env.ALEXC_VERBOSE;
  delete env.NODE_OPTIONS; // jest's options (if any) are not the CLI's
  const t0 = Date.now();
  const r = spawnSync(process.execPath, [ALEXC_BIN, ...args], {
    cwd: opts.cwd ?? REPO_ROOT,
    env,
    encoding: "utf8",
    timeout: opts.timeoutMs ?? 60_000,
    maxBuffer: 16 * 1024 * 1024,
  });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** The non-empty lines of a stream's text. */
export function lines(text: string): string[] {
  return text.split("\n").filter((l) => l.trim().length > 0);
}

/** A one-line rendering of a result for failure messages. */
export function describeResult(r: CliResult): string {
  return `exit ${r.status}${r.signal ? ` (signal ${r.signal})` : ""}\n--- stdout ---\n${r.stdout}\n--- stderr ---\n${r.stderr}`;
}

/** runAlexc that must succeed: a failure throws with the whole result (exit, stdout, stderr). */
export function runAlexcOk(args: readonly string[], timeoutMs: number): CliResult {
  const r = runAlexc(args, { timeoutMs });
  if (r.status !== 0) throw new Error(describeResult(r));
  return r;
}
