/**
 * The NCHWc block size of this machine's onnxruntime CPU kernels (8 with AVX2, 16 with AVX-512),
 * read from the channel count ReorderInput pads 4 channels to; 1 where those kernels are absent.
 * passes/nchwc.ts blocks convolutions by it.
 */
import * as ort from "onnxruntime-node";
import { GraphBuilder } from "../graph/ir";
import { sessionBytes } from "../emit/session-bytes";
import { NCHWC_DOMAIN } from "../passes/nchwc";

let probed: Promise<number> | undefined;

export function nchwcBlockSize(): Promise<number> {
  probed ??= (async () => {
    const b = new GraphBuilder("nchwc_probe");
    const x = b.input("x", "float32", [1, 4, 1, 1]);
    // The padded channel count is what the probe reads: the declared output type leaves it open.
    b.outputs.push(...b.external("ReorderInput", [x], { domain: NCHWC_DOMAIN, outputs: [{ dtype: "float32", shape: [1, "C", 1, 1] }] }, { name: "probe", outputNames: ["y"] }));
    try {
      const session = await ort.InferenceSession.create(sessionBytes(b.build()));
      const out = await session.run({ x: new ort.Tensor("float32", new Float32Array(4), [1, 4, 1, 1]) });
      await session.release();
      return Number(out.y.dims[1]);
    } catch {
      return 1;
    }
  })();
  return probed;
}
