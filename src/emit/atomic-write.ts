/**
 * Writes a file so that readers see either the old content or the whole new content, never
 * a partial file: temp file in the same directory, fsync, rename.
 */
import * as fs from "fs";
import * as path from "path";
import { IoError } from "../graph/errors";

/** `data` in pieces is written one after the other, so that large contents need no joined copy. */
export function writeFileAtomic(target: string, data: Uint8Array | string | readonly Uint8Array[]): void {
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new IoError(`cannot write ${target}: directory ${dir} does not exist`);
  if (!fs.statSync(dir).isDirectory()) throw new IoError(`cannot write ${target}: ${dir} is not a directory`);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "w", 0o644);
    const pieces = typeof data === "string" ? [Buffer.from(data)] : data instanceof Uint8Array ? [data] : data;
    for (const bytes of pieces) {
      let off = 0;
      while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 26));
    }
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    try {
      if (fd !== undefined) fs.closeSync(fd);
      fs.rmSync(tmp, { force: true });
    } catch {
      // best effort: the original error is the one worth reporting
    }
    if (e instanceof IoError) throw e;
    const err = e as NodeJS.ErrnoException;
    // Node's message names the temp file ("EACCES: permission denied, open '/d/.x.onnx.123.tmp'"
    // or "rename '…tmp' -> '…'"); the user only knows the target, so keep just the reason.
    const reason = err.message
      .replace(/^\w+: /, "")
      .replace(/,\s*(open|rename|write|fsync|close)\s+'[^']*'(\s*->\s*'[^']*')?\s*$/, "");
    throw new IoError(`cannot write ${target}: ${err.code ?? ""} ${reason}`.replace(/\s+/g, " ").trim());
  }
}
