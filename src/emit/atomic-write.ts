/**
 * Writes a file so that readers see either the old content or the whole new content, never a
 * partial file, even across a kill -9 or a power cut: temp file in the same directory, fsync,
 * rename, fsync of the directory (so that the rename itself is on disk). A temp file that a
 * killed process left behind is removed by the next write of the same file.
 */
import * as fs from "fs";
import * as path from "path";
import { IoError } from "../graph/errors";
import { pausePoint } from "./pause-point";

/** `data` in pieces is written one after the other, so that large contents need no joined copy. */
export function writeFileAtomic(target: string, data: Uint8Array | string | readonly Uint8Array[]): void {
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new IoError(`cannot write ${target}: directory ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new IoError(`cannot write ${target}: ${dir} is not a directory`);
  removeStaleTemps(dir, path.basename(target));
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "w", 0o644);
    const pieces = typeof data === "string" ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
    for (const [i, bytes] of pieces.entries()) {
      let off = 0;
      while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 26));
      if (i === 0) pausePoint(`write:${path.basename(target)}`);
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
    syncDirectory(dir);
  } catch (e) {
    try {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
    } catch {
      // best effort: the original error is the one worth reporting
    }
    throw writeError(target, e);
  }
}

/** The error to report for a failed write: Node's message names the temp file, which the user never asked for. */
function writeError(target: string, e: unknown): IoError {
  if (e instanceof IoError) return e;
  const err = e as NodeJS.ErrnoException;
  // "EACCES: permission denied, open '/d/.x.onnx.123.tmp'", "rename '…tmp' -> '…'" or "ENOSPC: …, write": keep just the reason.
  const reason = err.message
    .replace(/^\w+: /, "")
    .replace(/,\s*(open|rename|write|fsync|close)(\s+'[^']*'(\s*->\s*'[^']*')?)?\s*$/, "");
  return new IoError(`cannot write ${target}: ${err.code ?? ""} ${reason}`.replace(/\s+/g, " ").trim());
}

/** fsync of a directory makes a rename in it durable; filesystems that cannot sync a directory are left as they are. */
function syncDirectory(dir: string): void {
  let fd: number | undefined;
  try {
    fd = fs.openSync(dir, "r");
    fs.fsyncSync(fd);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    if (code !== "EINVAL" && code !== "EISDIR" && code !== "EPERM") throw e;
  } finally {
    if (fd !== undefined) fs.closeSync(fd);
  }
}

/** Temp files of earlier writes of `base` whose process is gone (killed mid-write). */
function removeStaleTemps(dir: string, base: string): void {
  const prefix = `.${base}.`;
  for (const name of fs.readdirSync(dir)) {
    const pid = name.startsWith(prefix) && name.endsWith(".tmp") ? Number(name.slice(prefix.length, -4)) : NaN;
    if (Number.isInteger(pid) && pid !== process.pid && !alive(pid)) fs.rmSync(path.join(dir, name), { force: true });
  }
}

function alive(pid: number): boolean {
  try {
    process.kill(pid, 0);
    return true;
  } catch (e) {
    return (e as NodeJS.ErrnoException).code === "EPERM";
  }
}
