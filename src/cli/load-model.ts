/**
 * Loads a user's model file (.ts, run through tsx without a compile step) and finds the
 * model it exports. Every failure is one ModelError that names the file.
 */
import * as fs from "fs";
import * as path from "path";
import { isModelDef, ModelDef } from "../graph/dsl";
import { AlexcError, ModelError } from "../graph/errors";

export function loadModelFile(file: string): ModelDef {
  const abs = path.resolve(file);
  if (!fs.existsSync(abs)) throw new ModelError(`${file}: no such file`);
  if (!fs.statSync(abs).isFile()) throw new ModelError(`${file}: not a file`);
  let mod: Record<string, unknown>;
  try {
    mod = require(abs) as Record<string, unknown>;
  } catch (e) {
    if (e instanceof AlexcError) throw e;
    throw new ModelError(describeLoadError(file, abs, e));
  }
  const candidates = [mod.default, mod.model, ...Object.values(mod)].filter(isModelDef);
  if (candidates.length === 0) {
    const names = Object.keys(mod).filter((k) => k !== "__esModule");
    throw new ModelError(
      `${file}: exports no model (exports: ${names.length ? names.join(", ") : "nothing"}); ` +
        `add \`export default model({...}, (x) => ...)\``,
    );
  }
  return candidates[0];
}

function describeLoadError(file: string, abs: string, e: unknown): string {
  const err = e as Error & { errors?: { text: string; location?: { line: number; column: number } }[] };
  // esbuild (through tsx) reports syntax errors with their location.
  const first = err.errors?.[0];
  if (first?.location) return `${file}:${first.location.line}:${first.location.column + 1}: syntax error: ${first.text}`;
  const msg = String(err.message ?? e);
  const m = /:(\d+):(\d+): ERROR: (.*)/.exec(msg);
  // esbuild's columns are 0-based (as in `location.column` above); report 1-based like shape errors.
  if (m) return `${file}:${m[1]}:${Number(m[2]) + 1}: syntax error: ${m[3]}`;
  const frame = (err.stack ?? "").split("\n").find((l) => l.includes(abs));
  const loc = frame ? /:(\d+):(\d+)\)?$/.exec(frame) : null;
  return `${file}${loc ? `:${loc[1]}:${loc[2]}` : ""}: failed to load: ${msg.split("\n")[0]}`;
}
