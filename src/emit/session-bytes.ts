/**
 * The bytes an onnxruntime session is created from: a graph encoded once, after every pass.
 *
 * `unnamedDims` leaves the top-level graph's symbolic dimensions unnamed. onnxruntime plans, when
 * a session is created, which intermediate values may take over the buffer of a value that died
 * before them, and it matches them by shape, symbolically: [N,256,27,27] equals [N,256,27,27]
 * whatever N turns out to be. In a training step nearly every activation of the forward has a
 * same-shaped gradient in the backward, so that plan keeps the forward's buffers alive across the
 * whole backward, waiting for the gradients that will reuse them. With the dimension unnamed (an
 * unknown dimension, which ONNX allows) no two shapes can be proven equal, nothing is planned for
 * reuse, and each buffer goes back to the arena at its last use (docs/performance.md). The values
 * computed are the same; only where they are stored changes. It is an encoding choice rather than
 * a pass because the IR's shapes stay what they are: only what onnxruntime is told about them changes.
 */
import type { Graph } from "../graph/ir";
import { customDomains, encodeModel, graphProto, modelProto } from "./encode";
import type { onnx } from "./proto";

export interface SessionBytesOptions {
  /** Leave the top-level graph's symbolic dims unnamed (the CPU training step). */
  readonly unnamedDims?: boolean;
}

export function sessionBytes(g: Graph, opts: SessionBytesOptions = {}): Uint8Array {
  let proto = graphProto(g);
  if (opts.unnamedDims) proto = { ...proto, input: unname(proto.input), output: unname(proto.output), valueInfo: unname(proto.valueInfo) };
  return encodeModel(modelProto(proto, { domains: customDomains(g) }));
}

function unname(vs: onnx.IValueInfoProto[] | null | undefined): onnx.IValueInfoProto[] {
  return (vs ?? []).map((v) => {
    const t = v.type?.tensorType;
    if (!t?.shape?.dim?.some((d) => d.dimParam)) return v;
    const dim = t.shape.dim.map((d) => (d.dimParam ? {} : d));
    return { ...v, type: { ...v.type, tensorType: { ...t, shape: { dim } } } };
  });
}
