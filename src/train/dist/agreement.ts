/**
 * The data-parallel invariant, checked: every rank holds bit for bit the same parameters and
 * optimizer state. Each rank hashes its tensors; the hashes' minimum and maximum over the ranks
 * agree only when every rank's does. Checked at the start (a resumed run read the same checkpoint)
 * and at the end of a run.
 */
import { createHash } from "crypto";
import { AlexcError } from "../../graph/errors";
import type { Communicator } from "./communicator";

/** SHA-256 of the tensors in name order, as hex. */
export function tensorDigest(tensors: ReadonlyMap<string, Float32Array>): string {
  const h = createHash("sha256");
  for (const name of [...tensors.keys()].sort()) {
    const t = tensors.get(name)!;
    h.update(name);
    h.update(new Uint8Array(t.buffer, t.byteOffset, t.byteLength));
  }
  return h.digest("hex");
}

/** The common digest of every rank's tensors; throws where two ranks differ. */
export function checkRanksAgree(comm: Communicator, tensors: ReadonlyMap<string, Float32Array>, when: string): string {
  const digest = tensorDigest(tensors);
  // 16-bit pieces are exact in a float64, so MPI_MIN and MPI_MAX compare the digests exactly.
  const pieces = Float64Array.from({ length: 16 }, (_, i) => parseInt(digest.slice(4 * i, 4 * i + 4), 16));
  const lo = Float64Array.from(pieces);
  const hi = Float64Array.from(pieces);
  comm.allreduce(lo, "min");
  comm.allreduce(hi, "max");
  if (lo.some((v, i) => v !== hi[i])) {
    throw new AlexcError(`--dist mpi: the ranks' parameters and optimizer state differ ${when} (rank ${comm.rank} has sha256 ${digest.slice(0, 16)}): data-parallel training needs them identical`);
  }
  return digest;
}
