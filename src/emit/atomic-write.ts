/**
 * Writes a file so that readers see either the old content or the whole new content, never
 * a partial file: temp file in the same directory, fsync, rename.
 */
import * as fs from "fs";
import * as path from "path";
import { IoError } from "../graph/errors";

export function writeFileAtomic(target: string, data: Uint8Array | string): void {
  const dir = path.dirname(path.resolve(target));
  if (!fs.existsSync(dir)) throw new IoError(`cannot write ${target}: directory ${dir} does not exist`);
  const tmp = path.join(dir, `.${path.basename(target)}.${process.pid}.tmp`);
  let fd: number | undefined;
  try {
    fd = fs.openSync(tmp, "w", 0o644);
    const bytes = typeof data === "string" ? Buffer.from(data) : data;
    let off = 0;
    while (off < bytes.byteLength) off += fs.writeSync(fd, bytes, off, Math.min(bytes.byteLength - off, 1 << 26));
    fs.fsyncSync(fd);
    fs.closeSync(fd);
    fd = undefined;
    fs.renameSync(tmp, target);
  } catch (e) {
    if (fd !== undefined) fs.closeSync(fd);
    fs.rmSync(tmp, { force: true });
    if (e instanceof IoError) throw e;
    const err = e as NodeJS.ErrnoException;
    throw new IoError(`cannot write ${target}: ${err.code ?? ""} ${err.message.replace(/^\w+: /, "")}`.replace(/\s+/g, " ").trim());
  }
}
