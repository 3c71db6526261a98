/**
 * The step's bytes for onnxruntime's CPU session with its symbolic dimensions unnamed.
 *
 * onnxruntime plans, when a session is created, which intermediate values may take over the buffer
 * of a value that died before them, and it matches them by shape — symbolically: [N,256,27,27]
 * equals [N,256,27,27] whatever N turns out to be. In a training step nearly every activation of the
 * forward has a same-shaped gradient in the backward, so the plan keeps the forward's buffers alive
 * across the whole backward, waiting for the gradients that will reuse them: AlexNet's step at batch
 * 128 had ≈ 1.05 GB of its arena in use against ≈ 0.45 GB of live values. With the batch dimension
 * unnamed (an unknown dimension, which ONNX allows) no two shapes can be proven equal, nothing is
 * planned for reuse, and each buffer goes back to the arena at its last use (peak in use ≈ 0.6 GB).
 * The values computed are the same; only where they are stored changes.
 */
import { decodeModel } from "../emit/decode";
import { encodeModel } from "../emit/encode";
import type { onnx } from "../emit/proto";

export function withoutDimNames(bytes: Uint8Array): Uint8Array {
  const m = decodeModel(bytes, "model for onnxruntime's CPU session");
  const g = m.graph as onnx.IGraphProto;
  const unname = (vs: onnx.IValueInfoProto[] | null | undefined) =>
    (vs ?? []).map((v) => {
      const t = v.type?.tensorType;
      if (!t?.shape?.dim?.some((d) => d.dimParam)) return v;
      const dim = t.shape.dim.map((d) => (d.dimParam ? { denotation: d.denotation } : d));
      return { ...v, type: { ...v.type, tensorType: { ...t, shape: { dim } } } };
    });
  return encodeModel({ ...m, graph: { ...g, input: unname(g.input), output: unname(g.output), valueInfo: unname(g.valueInfo) } });
}
