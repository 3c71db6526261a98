/** Reads a file the user named (a model, weights, an image): a missing or unreadable one is one IoError naming it. */
import * as fs from "fs";
import { IoError } from "../graph/errors";

export function readInputFile(file: string): Buffer {
  try {
    return fs.readFileSync(file);
  } catch (e) {
    const code = (e as NodeJS.ErrnoException).code;
    throw new IoError(code === "ENOENT" ? `${file}: no such file` : code === "EISDIR" ? `${file}: is a directory` : `${file}: cannot read (${code})`);
  }
}
