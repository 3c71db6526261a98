/** Temporary folders for tests: one per test file, removed afterwards. */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

/** Creates a fresh temp folder; call `remove()` in afterAll. */
export function makeTmpDir(prefix: string): { dir: string; sub: (name: string) => string; remove: () => void } {
  const dir = fs.mkdtempSync(path.join(os.tmpdir(), `alexc-${prefix}-`));
  let n = 0;
  return {
    dir,
    /** A new empty sub-folder (so each case can check that nothing was left behind in it). */
    sub: (name: string) => {
      const d = path.join(dir, `${name}-${n++}`);
      fs.mkdirSync(d);
      return d;
    },
    remove: () => fs.rmSync(dir, { recursive: true, force: true }),
  };
}

/** Entries of a folder, sorted (hidden files included). */
export function listDir(dir: string): string[] {
  return fs.readdirSync(dir).sort();
}
