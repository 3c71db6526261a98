/**
 * The MPI communicator of a data-parallel run (`alexc train --dist mpi`), through alexc's MPI
 * binding (native/mpi.cc, built by scripts/build-native.sh with mpicxx). Every rank runs the same
 * command; rank and size come from MPI_COMM_WORLD, never from the environment.
 */
import * as fs from "fs";
import * as path from "path";
import { AlexcError } from "../../graph/errors";

/** Where scripts/build-native.sh puts the binding; ALEXC_MPI_ADDON names another build (or, in a test, none). */
export const MPI_ADDON = process.env.ALEXC_MPI_ADDON ?? path.resolve(__dirname, "../../../build/native/alexc_mpi.node");

/** MPI is missing or failed: the same exit code as a missing execution provider. */
export class DistError extends AlexcError {
  override readonly exitCode = 7;
}

export type ReduceOp = "sum" | "max" | "min";

export interface Communicator {
  readonly rank: number;
  readonly size: number;
  /** The MPI library and its version, for the log. */
  readonly library: string;
  /** The reduction over every rank, written into `data` on every rank (MPI_Allreduce, in place). */
  allreduce(data: Float32Array | Float64Array, op: ReduceOp): void;
  /** MPI_Finalize: mpirun expects it of every rank that ends normally. */
  finalize(): void;
}

interface Binding {
  init(): { rank: number; size: number; library: string };
  allreduce(data: Float32Array | Float64Array, op: ReduceOp): void;
  finalize(): void;
}

const HINT = "install libopenmpi-dev (mpicxx) and run `bash scripts/build-native.sh`";

/** Initialises MPI (once per process) and returns the world communicator; a DistError says what is missing. */
export function openMpi(): Communicator {
  if (!fs.existsSync(MPI_ADDON)) throw new DistError(`--dist mpi: alexc's MPI binding is not built (${MPI_ADDON}): ${HINT}`);
  let binding: Binding;
  try {
    binding = require(MPI_ADDON) as Binding;
  } catch (e) {
    throw new DistError(`--dist mpi: the MPI library could not be loaded (${(e as Error).message.split("\n")[0]}): ${HINT}`);
  }
  let world: { rank: number; size: number; library: string };
  try {
    world = binding.init();
  } catch (e) {
    throw new DistError(`--dist mpi: ${(e as Error).message}`);
  }
  return {
    ...world,
    allreduce: (data, op) => binding.allreduce(data, op),
    finalize: () => binding.finalize(),
  };
}
