/**
 * onnxruntime-node's native binding creates output typed arrays in Node's main realm, but
 * onnxruntime-common (loaded inside jest's sandbox) checks `data instanceof Float32Array`
 * against the sandbox's constructors and rejects them. Importing this module first makes the
 * sandbox use the main realm's typed-array constructors. Import it before onnxruntime-node.
 */
import * as vm from "vm";

const NAMES = [
  "Float32Array", "Float64Array", "Int8Array", "Uint8Array", "Int16Array", "Uint16Array",
  "Int32Array", "Uint32Array", "BigInt64Array", "BigUint64Array", "Uint8ClampedArray",
] as const;
const g = globalThis as unknown as Record<string, unknown>;
for (const name of NAMES) {
  const outer = vm.runInThisContext(name) as unknown;
  if (outer && g[name] !== outer) g[name] = outer;
}
export {};
