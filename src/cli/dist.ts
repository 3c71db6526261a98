/**
 * `alexc train --dist mpi`: this process as one rank of a data-parallel run under mpirun (or
 * Slurm). Rank 0 logs and writes; the other ranks train silently. Each rank takes an equal share
 * of the machine's cores unless --threads says otherwise.
 */
import * as os from "os";
import { UsageError } from "../graph/errors";
import { openMpi, type Communicator } from "../train/dist/communicator";
import { shardOf } from "../train/dist/shard";
import type { TrainingProgram } from "../train/program";
import { plainLogger, type Logger } from "../train/progress";
import type { Target } from "../train/targets/target";

export interface DistRun {
  readonly comm: Communicator | undefined;
  readonly log: Logger;
  /** Intra-op threads per process: the flag's, or under MPI the cores shared among the ranks on this machine. */
  readonly threads: number | undefined;
}

const SILENT: Logger = { line: () => undefined, progress: () => undefined };

export function distRun(dist: "mpi" | undefined, threads: number | undefined): DistRun {
  if (!dist) return { comm: undefined, log: plainLogger(), threads };
  const comm = openMpi();
  // Open MPI names the ranks sharing this machine; the communicator knows only the whole world.
  const local = Number(process.env.OMPI_COMM_WORLD_LOCAL_SIZE ?? process.env.SLURM_NTASKS_PER_NODE ?? comm.size) || 1;
  return { comm, log: comm.rank === 0 ? plainLogger() : SILENT, threads: threads ?? Math.max(1, Math.floor(os.availableParallelism() / local)) };
}

/** Throws where the run cannot be data-parallel; otherwise the log line that says how it is split. */
export function checkDist(comm: Communicator, program: TrainingProgram, target: Target, opts: { batchSize: number; stepsPerRun: number; threads?: number }): string {
  if (!program.splitStep) throw new UsageError(`--dist mpi trains from the model file (.ts): a built .onnx carries its step whole, not split at the gradients`);
  if (opts.stepsPerRun > 1) throw new UsageError(`--dist mpi all-reduces after every step: --steps-per-run must be 1, got ${opts.stepsPerRun}`);
  if (target.deviceResident || target.lowering !== "dropout") throw new UsageError(`--dist mpi runs with --ep cpu or cuda and the default lowering`);
  const share = shardOf(opts.batchSize, 0, comm.size).to;
  const threads = opts.threads ?? os.availableParallelism();
  return `dist: rank ${comm.rank} of ${comm.size} (${comm.library}); each rank trains ${share} of every ${opts.batchSize} images, ${threads} thread${threads === 1 ? "" : "s"} per rank`;
}
