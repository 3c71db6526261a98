/**
 * Source locations of DSL calls, so a shape error points at the model line that made the op
 * (as Spox's debug mode does). Captured from the call stack: the first frame outside alexc's
 * own src/ is the user's model file. tsx maps stack frames back to .ts lines.
 */
import * as path from "path";

export interface SourceLoc {
  readonly file: string;
  readonly line: number;
  readonly column: number;
}

const SRC_ROOT = path.resolve(__dirname, "..");

export function captureSource(): SourceLoc | undefined {
  const stack = new Error().stack ?? "";
  for (const line of stack.split("\n").slice(1)) {
    const m = /\(?((?:file:\/\/)?[^\s()]+):(\d+):(\d+)\)?\s*$/.exec(line);
    if (!m) continue;
    const file = m[1].replace(/^file:\/\//, "");
    if (file.startsWith("node:") || file.includes("node_modules") || !path.isAbsolute(file)) continue;
    if (file.startsWith(SRC_ROOT + path.sep)) continue;
    return { file, line: Number(m[2]), column: Number(m[3]) };
  }
  return undefined;
}

export function formatSource(loc: SourceLoc | undefined): string {
  if (!loc) return "";
  const rel = path.relative(process.cwd(), loc.file);
  return `${rel.startsWith("..") ? loc.file : rel}:${loc.line}:${loc.column}`;
}
