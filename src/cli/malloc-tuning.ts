/**
 * `alexc train` runs under glibc malloc tunables that keep freed memory for reuse.
 *
 * glibc serves large blocks with mmap and unmaps them on free, so every training step's new
 * arrays — onnxruntime's outputs, a copy of every parameter and state tensor — are page-faulted in
 * afresh, and the kernel spends a large share of the step zeroing pages. With mmap off and
 * trimming off, freed blocks stay in the heap and the next step reuses them (docs/performance.md). Tunables are read at process
 * start only, so the command re-runs itself once with them set; a GLIBC_TUNABLES the user set
 * wins, and other platforms ignore it. Steps on alexc's own binding update in place and allocate
 * no outputs: then `train` runs as it is (stepsInPlace).
 */
import { spawn } from "child_process";
import * as fs from "fs";
import { constants } from "os";
import { NATIVE_ADDON } from "../train/native-addon";

export const MALLOC_TUNABLES = "glibc.malloc.mmap_max=0:glibc.malloc.trim_threshold=68719476736";

/**
 * For `train` on Linux without GLIBC_TUNABLES: runs the same command line in a child process
 * under the tunables (see relaunchUnderMallocTuning) and returns true. Otherwise returns false and
 * the caller runs the command itself. Never under `--dist`: mpirun tracks the process it started,
 * which must be the MPI rank itself.
 */
export function relaunchWithMallocTuning(argv: readonly string[], entry: string): boolean {
  const dist = argv.some((a) => a === "--dist" || a.startsWith("--dist="));
  return argv[0] === "train" && !dist && !stepsInPlace(argv) && relaunchUnderMallocTuning(argv, entry);
}

/**
 * Whether `train` will run its steps on alexc's own binding (src/train/native-session.ts): the CPU
 * provider, one step per run, the binding built and not turned off. Those steps allocate no
 * outputs — the updates go into the arrays they replace — so the tunables have nothing left to
 * save and only add to peak RSS (docs/performance.md).
 */
export function stepsInPlace(argv: readonly string[]): boolean {
  const value = (flag: string): string | undefined => {
    const i = argv.findIndex((a) => a === flag || a.startsWith(`${flag}=`));
    if (i < 0) return undefined;
    return argv[i].includes("=") ? argv[i].slice(flag.length + 1) : argv[i + 1];
  };
  const off = argv.includes("--no-native") || value("--native") === "false";
  return fs.existsSync(NATIVE_ADDON) && !off && (value("--ep") ?? "cpu") === "cpu" && Number(value("--steps-per-run") ?? 1) <= 1;
}

/**
 * On Linux without GLIBC_TUNABLES: runs `entry` with `args` (and this process's node flags) in a
 * child process under the tunables, forwards SIGINT and SIGTERM to it, exits with its status, and
 * returns true. Otherwise returns false. Scripts that time the step use it to run as the trainer does.
 */
export function relaunchUnderMallocTuning(args: readonly string[], entry: string): boolean {
  if (process.platform !== "linux" || process.env.GLIBC_TUNABLES !== undefined) return false;
  const child = spawn(process.execPath, [...process.execArgv, entry, ...args], {
    stdio: "inherit",
    env: { ...process.env, GLIBC_TUNABLES: MALLOC_TUNABLES },
  });
  // A terminal's Ctrl-C reaches both processes; a signal sent to this one alone must reach the
  // trainer too (it saves a checkpoint on SIGINT). A second SIGINT only sets the same flag.
  const forward = (signal: NodeJS.Signals) => child.kill(signal);
  process.on("SIGINT", forward);
  process.on("SIGTERM", forward);
  child.on("exit", (code, signal) => {
    process.exitCode = code ?? 128 + (signal ? constants.signals[signal] : 1);
  });
  return true;
}
