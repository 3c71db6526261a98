/**
 * Runs `alexc train` in its own process group and kills the whole group with SIGKILL at a chosen
 * moment: after a delay, or when the process reports that it stopped at an ALEXC_PAUSE_AT point
 * (src/emit/pause-point.ts). Used by scripts/kill-soak.ts and test/kill-resume.test.ts.
 */
import { spawn } from "child_process";
import * as fs from "fs";
import { ALEXC_BIN, REPO_ROOT } from "./cli";

export type KillAt = { readonly afterMs: number } | { readonly pauseAt: string } | "never";

export interface KilledRun {
  /** Exit status when the run ended by itself, null when it was killed. */
  readonly status: number | null;
  readonly killed: boolean;
  readonly stdout: string;
  readonly stderr: string;
}

/** `alexc train <args>`, killed as `at` says (a pause point that is never reached lets the run finish). */
export function trainKilled(args: readonly string[], at: KillAt, timeoutMs = 300_000): Promise<KilledRun> {
  const env: NodeJS.ProcessEnv = { ...process.env };
  delete env.NODE_OPTIONS;
  delete env.ALEXC_PAUSE_AT;
  if (typeof at === "object" && "pauseAt" in at) env.ALEXC_PAUSE_AT = at.pauseAt;
  const child = spawn(process.execPath, [ALEXC_BIN, "train", ...args], { cwd: REPO_ROOT, env, detached: true, stdio: ["ignore", "pipe", "pipe"] });
  let stdout = "";
  let stderr = "";
  let killed = false;
  const kill = () => {
    if (killed || child.exitCode !== null) return;
    killed = true;
    process.kill(-child.pid!, "SIGKILL");
  };
  child.stdout.on("data", (d: Buffer) => (stdout += d.toString()));
  child.stderr.on("data", (d: Buffer) => {
    stderr += d.toString();
    if (/alexc: paused at /.test(stderr)) kill();
  });
  const timers = [setTimeout(kill, timeoutMs), ...(typeof at === "object" && "afterMs" in at ? [setTimeout(kill, at.afterMs)] : [])];
  return new Promise((resolve) => {
    child.on("close", (status) => {
      timers.forEach(clearTimeout);
      resolve({ status: killed ? null : status, killed, stdout, stderr });
    });
  });
}

/** Temp files that writers left in `dir` (a killed write's, until the next write of that file removes it). */
export function tempFiles(dir: string): string[] {
  return fs.existsSync(dir) ? fs.readdirSync(dir).filter((f) => f.endsWith(".tmp")) : [];
}

export const isNothingToResume = (r: KilledRun) => r.status === 5 && /--resume: no checkpoint at /.test(r.stderr);

export function sameBytes(a: string, b: string): boolean {
  return fs.existsSync(a) && fs.existsSync(b) && fs.readFileSync(a).equals(fs.readFileSync(b));
}

