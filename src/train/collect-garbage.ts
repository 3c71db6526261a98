/**
 * A full garbage collection on demand, for the step loops that hand large arrays back and forth.
 *
 * onnxruntime-node returns every output as a fresh copy (into a preallocated output too, it
 * writes and then copies again), so each CPU step turns the previous step's parameters and
 * optimizer state into garbage. V8 gets to it when it gets to it,
 * often only after the next step has made its own copies: the process then holds three sets of
 * them instead of two. Collecting right after the step lowers the peak RSS (docs/performance.md).
 *
 * A full collection is not free, though: it takes as long as a whole small-model step. So the step loops collect only after a step that left
 * `COLLECT_ABOVE_BYTES` or more of replaced arrays behind: onnxruntime-node's AlexNet steps, not
 * small models, and not steps on alexc's binding, which update their arrays in place.
 */
import { setFlagsFromString } from "v8";
import { runInNewContext } from "vm";

/** Replaced arrays worth a full collection right away (smaller garbage is left to V8). */
export const COLLECT_ABOVE_BYTES = 64 * 2 ** 20;

/** Collects when the arrays a step replaced add up to `COLLECT_ABOVE_BYTES`; says whether it did. */
export function collectReplaced(replacedBytes: number): boolean {
  if (replacedBytes < COLLECT_ABOVE_BYTES) return false;
  collectGarbage();
  return true;
}

let gc: (() => void) | undefined;

export function collectGarbage(): void {
  if (!gc) {
    // `node --expose-gc` puts gc() on the global object; without the flag, setting it at run time
    // gives new contexts one.
    gc = (globalThis as { gc?: () => void }).gc;
    if (!gc) {
      setFlagsFromString("--expose-gc");
      gc = runInNewContext("gc") as () => void;
    }
  }
  gc();
}
