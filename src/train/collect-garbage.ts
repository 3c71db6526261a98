/**
 * A full garbage collection on demand, for the step loops that hand large arrays back and forth.
 *
 * onnxruntime-node returns every output as a fresh copy (into a preallocated output too, it
 * writes and then copies again), so each CPU step turns the previous step's parameters and
 * optimizer state — AlexNet with Adam: 700 MB — into garbage. V8 gets to it when it gets to it,
 * often only after the next step has made its own copies: the process then holds three sets of
 * them instead of two. Collecting right after the step takes milliseconds and lowers AlexNet's
 * peak RSS at batch 128 by ≈ 0.2–0.4 GB (docs/performance.md).
 */
import { setFlagsFromString } from "v8";
import { runInNewContext } from "vm";

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
