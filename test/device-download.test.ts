/**
 * The download session returns each tensor it is fed, by name, as a host array. On a GPU it is
 * fed "gpu-buffer" tensors (onnxruntime-node cannot download those itself); here, without a GPU,
 * the same graph runs on the CPU provider.
 */
import "./helpers/train-realm";
import * as ort from "onnxruntime-node";
import { deviceDownload } from "../src/train/device-download";

test("deviceDownload returns every tensor unchanged, by name", async () => {
  const dims = new Map<string, readonly number[]>([
    ["conv1.weight", [2, 1, 3, 3]],
    ["conv1.weight.adam_m", [2, 1, 3, 3]],
    ["fc.bias", [5]],
  ]);
  const device = new Map<string, ort.Tensor>();
  for (const [name, d] of dims) {
    const n = d.reduce((a, b) => a * b, 1);
    device.set(name, new ort.Tensor("float32", Float32Array.from({ length: n }, (_, i) => i * 0.25 - name.length), [...d]));
  }
  const download = await deviceDownload(dims, "cpu");
  const host = await download.run(device);
  await download.release();
  expect([...host.keys()]).toEqual([...dims.keys()]);
  for (const [name, t] of device) expect(Array.from(host.get(name)!)).toEqual(Array.from(t.data as Float32Array));
});
