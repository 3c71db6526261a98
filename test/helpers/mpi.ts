/** Runs `alexc` under `mpirun -np K` (Open MPI), as root where the tests run as root. */
import { spawn, spawnSync } from "child_process";
import * as fs from "fs";
import { ALEXC_BIN, type CliResult, REPO_ROOT } from "./cli";

/** Why the MPI tests cannot run here ("" where they can). */
export function mpiMissing(): string {
  const which = spawnSync("sh", ["-c", "command -v mpirun"], { encoding: "utf8" });
  if (which.status !== 0) return "mpirun is not installed (apt-get install openmpi-bin libopenmpi-dev)";
  return "";
}

/** Open MPI refuses root unless told twice. */
export const MPI_ENV = { OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };

function mpirunArgs(ranks: number, args: readonly string[]): string[] {
  return ["-np", String(ranks), "--oversubscribe", process.execPath, ALEXC_BIN, ...args];
}

function childEnv(env: NodeJS.ProcessEnv = {}): NodeJS.ProcessEnv {
  const e: NodeJS.ProcessEnv = { ...process.env, ...MPI_ENV, ...env };
  delete e.NODE_OPTIONS;
  delete e.ALEXC_VERBOSE;
  return e;
}

export function runMpi(ranks: number, args: readonly string[], opts: { env?: NodeJS.ProcessEnv; timeoutMs?: number } = {}): CliResult {
  const t0 = Date.now();
  const r = spawnSync("mpirun", mpirunArgs(ranks, args), { cwd: REPO_ROOT, env: childEnv(opts.env), encoding: "utf8", timeout: opts.timeoutMs ?? 60_000, maxBuffer: 16 << 20 });
  if (r.error) throw r.error;
  return { status: r.status, signal: r.signal, stdout: r.stdout, stderr: r.stderr, ms: Date.now() - t0 };
}

/** mpirun in the background, with the pid of the process of each rank once they have started. */
export function startMpi(ranks: number, args: readonly string[]): { done: Promise<CliResult>; rankPid(rank: number): number | undefined } {
  const t0 = Date.now();
  const child = spawn("mpirun", mpirunArgs(ranks, args), { cwd: REPO_ROOT, env: childEnv() });
  let stdout = "";
  let stderr = "";
  child.stdout.on("data", (d) => (stdout += d));
  child.stderr.on("data", (d) => (stderr += d));
  const done = new Promise<CliResult>((resolve) => child.on("close", (status, signal) => resolve({ status, signal, stdout, stderr, ms: Date.now() - t0 })));
  const rankPid = (rank: number) => {
    const kids = spawnSync("pgrep", ["-P", String(child.pid)], { encoding: "utf8" }).stdout.split("\n").filter(Boolean).map(Number);
    return kids.find((pid) => {
      try {
        return fs.readFileSync(`/proc/${pid}/environ`, "latin1").split("\0").includes(`OMPI_COMM_WORLD_RANK=${rank}`);
      } catch {
        return false;
      }
    });
  };
  return { done, rankPid };
}
