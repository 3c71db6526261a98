/**
 * Brings tensors that a WebGPU session left on the GPU ("gpu-buffer" outputs) back to the host.
 *
 * onnxruntime-node cannot download a gpu-buffer tensor itself: its `getData()` throws a C++
 * exception ("not implemented") that aborts the process. A session of Identity nodes on the same
 * provider takes the GPU tensors as inputs and returns copies on the host instead; it is built
 * once per training run and run once per epoch (evaluation and the checkpoint read the weights).
 */
import type * as ort from "onnxruntime-node";
import { GraphBuilder } from "../graph/ir";
import { createSession, modelBytes, type ExecutionProvider } from "./session";

export interface DeviceDownload {
  /** Host copies of `device`'s tensors, by name. */
  run(device: ReadonlyMap<string, ort.Tensor>): Promise<Map<string, Float32Array>>;
  release(): Promise<void>;
}

export async function deviceDownload(dims: ReadonlyMap<string, readonly number[]>, ep: ExecutionProvider): Promise<DeviceDownload> {
  const b = new GraphBuilder("download");
  for (const [name, shape] of dims) {
    const x = b.input(name, "float32", shape);
    b.output(b.op1("Identity", [x], {}, { name: `${name}/download`, outputNames: [`${name}.host`] }));
  }
  const session = await createSession(modelBytes(b), { ep });
  return {
    async run(device) {
      const feeds = Object.fromEntries([...dims.keys()].map((name) => [name, device.get(name)!]));
      const out = await session.run(feeds);
      return new Map([...dims.keys()].map((name) => [name, out[`${name}.host`].data as Float32Array]));
    },
    release: () => session.release(),
  };
}
