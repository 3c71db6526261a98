/**
 * The exported AlexNet in a second runtime: onnxruntime-web (WASM backend, in Node) gives the
 * logits onnxruntime-node gives, within 1e-4 relative, for batch 1 and batch 3 — for a freshly
 * built model and for a trained one (`alexc train` for a few steps, then `alexc export`, which
 * writes the inference model alone).
 */
import "./helpers/train-realm"; // first: jest's sandbox must use the main realm's typed arrays (see there)
import * as fs from "fs";
import * as path from "path";
import { readModelFile } from "../src/emit/decode";
import { runAlexcOk } from "./helpers/cli";
import { expectClose, maxAbs, randomImages, runOrtNode, runOrtWeb } from "./helpers/logits";
import { makeTmpDir } from "./helpers/tmp";

const T = 600_000;
const RTOL = 1e-4;

let tmp: ReturnType<typeof makeTmpDir>;
beforeAll(() => {
  tmp = makeTmpDir("runtimes");
});
afterAll(() => tmp.remove());

const alexc = (args: string[]) => runAlexcOk(args, T);

async function expectWebAgrees(model: string, tag: string): Promise<void> {
  for (const n of [1, 3]) {
    const shape = [n, 1, 224, 224];
    const x = randomImages(shape, 100 + n);
    const node = await runOrtNode(model, x, shape);
    const web = runOrtWeb(model, x, shape, tmp.dir, `${tag}-${n}`);
    expect(web.dims).toEqual([n, 10]);
    expectClose(web.data, node.data, RTOL, RTOL * 1e-2 * maxAbs(node.data), `${tag} batch ${n}: ORT-web vs ORT-node`);
  }
}

test(
  "AlexNet as built (--no-training): onnxruntime-web = onnxruntime-node within 1e-4, batch 1 and 3",
  async () => {
    const model = path.join(tmp.dir, "alexnet.onnx");
    alexc(["build", "models/alexnet.ts", "--no-training", "-o", model]);
    await expectWebAgrees(model, "fresh");
  },
  T,
);

test(
  "AlexNet trained, then exported for inference: onnxruntime-web = onnxruntime-node within 1e-4, batch 1 and 3",
  async () => {
    const out = tmp.sub("train");
    alexc(["train", "models/alexnet.ts", "--epochs", "1", "--batch-size", "4", "--train-limit", "8", "--test-limit", "8", "--out", out]);
    const trained = path.join(out, "alexnet.onnx");
    const exported = path.join(tmp.dir, "alexnet-trained.onnx");
    const r = alexc(["export", trained, "-o", exported]);
    expect(r.stdout).toMatch(/float32 inference model, 233\.\d MB/);
    const m = readModelFile(exported);
    expect(m.trainingInfo).toHaveLength(0);
    // trained: the exported weights are the trained ones, not the seed's initialisation
    const fresh = readModelFile(path.join(tmp.dir, "alexnet.onnx"));
    const w = (mm: typeof m) => Buffer.from(mm.graph!.initializer!.find((t) => t.name === "fc3.weight")!.rawData!);
    expect(w(m).equals(w(fresh))).toBe(false);
    expect(w(m).equals(w(readModelFile(trained)))).toBe(true);
    await expectWebAgrees(exported, "trained");
    fs.rmSync(out, { recursive: true, force: true });
  },
  T,
);
