/**
 * Weights in and out, checked against the seed's own PyTorch class (test/reference/seed_alexnet.py,
 * Debian torch 1.13): `alexc export-weights` writes safetensors under its state_dict names that
 * `AlexNet().load_state_dict` accepts (strict) and that give the same logits; weights saved from
 * PyTorch load with `alexc build --init-from` and `alexc train --init-from`; a file that does not
 * fit lists every mismatch; a corrupt file is one clear error.
 */
import "./helpers/train-realm"; // first: jest's sandbox must use the main realm's typed arrays (see there)
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { decodeSafetensors, encodeSafetensors } from "../src/emit/safetensors";
import { REPO_ROOT, runAlexc, runAlexcOk } from "./helpers/cli";
import { expectClose, maxAbs, randomImages, runOrtNode } from "./helpers/logits";
import { readNpy, writeNpy } from "./helpers/npy";
import { PYTHON } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";

const T = 300_000;
const RTOL = 1e-4;
const SEED_ALEXNET = path.join(REPO_ROOT, "test", "reference", "seed_alexnet.py");

let tmp: ReturnType<typeof makeTmpDir>;
beforeAll(() => {
  tmp = makeTmpDir("weights");
});
afterAll(() => tmp.remove());

function seedAlexnet(args: string[]): void {
  const r = spawnSync(PYTHON, [SEED_ALEXNET, ...args], { cwd: REPO_ROOT, encoding: "utf8", timeout: T });
  if (r.status !== 0) throw new Error(`seed_alexnet.py ${args[0]} exited ${r.status}:\n${r.stderr}`);
}

const alexc = (args: string[]) => runAlexcOk(args, T);

const shape = [2, 1, 224, 224];
const x = randomImages(shape, 42);
const input = () => {
  const f = path.join(tmp.dir, "x.npy");
  if (!fs.existsSync(f)) writeNpy(f, x, shape);
  return f;
};

describe("AlexNet weights ⇄ the seed's PyTorch class", () => {
  test(
    "export-weights: AlexNet().load_state_dict accepts the file (strict) and computes alexc's logits within 1e-4",
    async () => {
      const model = path.join(tmp.dir, "alexnet-s3.onnx");
      alexc(["build", "models/alexnet.ts", "--no-training", "--seed", "3", "-o", model]);
      const weights = path.join(tmp.dir, "alexnet-s3.safetensors");
      const r = alexc(["export-weights", model, "-o", weights]);
      expect(r.stdout).toContain("16 tensors, 58299082 parameters, PyTorch names");
      const header = decodeSafetensors(fs.readFileSync(weights), weights);
      expect(header.tensors.map((t) => t.name)).toEqual(
        ["conv.0", "conv.3", "conv.6", "conv.8", "conv.10", "fc.0", "fc.3", "fc.6"].flatMap((m) => [`${m}.weight`, `${m}.bias`]),
      );
      const out = path.join(tmp.dir, "torch-load.npy");
      seedAlexnet(["load", weights, input(), out]);
      const torchY = readNpy(out).data as Float32Array;
      const ortY = await runOrtNode(model, x, shape);
      expectClose(ortY.data, torchY, RTOL, RTOL * 1e-2 * maxAbs(torchY), "exported weights: ORT vs seed AlexNet");
    },
    T,
  );

  test(
    "build --init-from: weights saved by PyTorch give PyTorch's logits within 1e-4",
    async () => {
      const weights = path.join(tmp.dir, "torch-s11.safetensors");
      const out = path.join(tmp.dir, "torch-s11.npy");
      seedAlexnet(["save", "11", weights, input(), out]);
      const model = path.join(tmp.dir, "alexnet-from-torch.onnx");
      alexc(["build", "models/alexnet.ts", "--no-training", "--init-from", weights, "-o", model]);
      const torchY = readNpy(out).data as Float32Array;
      const ortY = await runOrtNode(model, x, shape);
      expectClose(ortY.data, torchY, RTOL, RTOL * 1e-2 * maxAbs(torchY), "init-from torch: ORT vs seed AlexNet");
    },
    T,
  );

  test(
    "a file that does not fit lists every mismatch, exits 5 and writes nothing",
    () => {
      const good = path.join(tmp.dir, "torch-s11.safetensors");
      const bad = path.join(tmp.dir, "tampered.safetensors");
      seedAlexnet(["tamper", good, bad]);
      const model = path.join(tmp.dir, "never.onnx");
      const r = runAlexc(["build", "models/alexnet.ts", "--init-from", bad, "-o", model], { timeoutMs: T });
      expect(r.status).toBe(5);
      const lines = r.stderr.trim().split("\n");
      expect(lines[0]).toBe(`alexc: ${bad}: the weights do not fit the model (4 mismatches):`);
      expect(lines.slice(1).map((l) => l.trim()).sort()).toEqual(
        [
          "shape of conv.3.weight: file has [256,96,25,1], the model expects [256,96,5,5]",
          "missing conv.10.bias (alexc conv5.bias) [256]",
          "missing fc.6.bias (alexc fc3.bias) [10]",
          "unexpected fc.7.bias [10]",
        ].sort(),
      );
      expect(fs.existsSync(model)).toBe(false);
    },
    T,
  );
});

describe("train --init-from (LeNet, alexc names)", () => {
  test(
    "training starts from the file's weights: with a negligible step the trained model's weights are the file's",
    () => {
      const built = path.join(tmp.dir, "lenet-s5.onnx");
      alexc(["build", "models/lenet.ts", "--no-training", "--seed", "5", "-o", built]);
      const w0 = path.join(tmp.dir, "lenet-s5.safetensors");
      alexc(["export-weights", built, "-o", w0]);
      const out = tmp.sub("lenet-init");
      // lr 1e-30: Adam moves each weight by ~1e-30, far below float32 resolution of weights ~1e-2.
      const r = alexc(["train", "models/lenet.ts", "--init-from", w0, "--lr", "1e-30", "--epochs", "1", "--train-limit", "256", "--test-limit", "128", "--out", out]);
      expect(r.stdout).toContain(`initial weights from ${w0} (10 tensors)`);
      const w1 = path.join(tmp.dir, "lenet-trained.safetensors");
      alexc(["export-weights", path.join(out, "lenet.onnx"), "-o", w1]);
      const a = decodeSafetensors(fs.readFileSync(w0), w0).tensors;
      const b = decodeSafetensors(fs.readFileSync(w1), w1).tensors;
      expect(b.map((t) => t.name)).toEqual(a.map((t) => t.name));
      for (let i = 0; i < a.length; i++) {
        let worst = 0;
        for (let j = 0; j < a[i].data.length; j++) worst = Math.max(worst, Math.abs(a[i].data[j] - b[i].data[j]));
        expect({ name: a[i].name, worst: worst <= 1e-20 }).toEqual({ name: a[i].name, worst: true });
      }
      // ...and they are not the seed-0 initialisation the run would otherwise have used
      const fresh = path.join(tmp.dir, "lenet-s0.onnx");
      alexc(["build", "models/lenet.ts", "--no-training", "-o", fresh]);
      const w00 = path.join(tmp.dir, "lenet-s0.safetensors");
      alexc(["export-weights", fresh, "-o", w00]);
      expect(Buffer.from(fs.readFileSync(w00)).equals(fs.readFileSync(w0))).toBe(false);
    },
    T,
  );

  test("--init-from with --resume is a usage error; a missing file exits 4", () => {
    const out = tmp.sub("lenet-bad");
    const both = runAlexc(["train", "models/lenet.ts", "--init-from", "x.safetensors", "--resume", "--out", out], { timeoutMs: T });
    expect(both.status).toBe(64);
    expect(both.stderr).toContain("--init-from starts a new run from given weights and --resume continues a run: use one");
    const missing = runAlexc(["build", "models/lenet.ts", "--init-from", path.join(tmp.dir, "nope.safetensors"), "-o", path.join(tmp.dir, "n.onnx")], { timeoutMs: T });
    expect(missing.status).toBe(4);
    expect(missing.stderr).toContain("nope.safetensors: no such file");
  });
});

describe("the safetensors format", () => {
  test("a truncated or garbled file is one clear error (exit 5)", () => {
    const good = encodeSafetensors([{ name: "fc1.weight", dims: [2, 3], data: Float32Array.from([1, 2, 3, 4, 5, 6]) }]);
    const cases: [string, Uint8Array, string][] = [
      ["truncated.safetensors", good.subarray(0, good.length - 4), "tensor 'fc1.weight' ends at byte 24 of a 20-byte data section (truncated file?)"],
      ["short.safetensors", good.subarray(0, 5), "5 bytes, shorter than the 8-byte header length"],
      ["huge-header.safetensors", Buffer.concat([Buffer.from([0xff, 0xff, 0xff, 0, 0, 0, 0, 0]), Buffer.from(good.subarray(8))]), "header length 16777215 exceeds the file"],
      ["text.safetensors", Buffer.from("hello, this is not a weights file at all"), "header length"],
    ];
    for (const [name, bytes, why] of cases) {
      const f = path.join(tmp.dir, name);
      fs.writeFileSync(f, bytes);
      const r = runAlexc(["build", "models/lenet.ts", "--init-from", f, "-o", path.join(tmp.dir, "n.onnx")], { timeoutMs: T });
      expect({ name, status: r.status }).toEqual({ name, status: 5 });
      expect(r.stderr).toContain(`${f}: not a valid safetensors file: `);
      expect(r.stderr).toContain(why);
    }
  });

  test("reads what numpy writes (F32, F16, F64 → float32); numpy reads what alexc writes", () => {
    const f = path.join(tmp.dir, "np.safetensors");
    const code = `
import json, struct, sys, numpy as np
vals = np.array([0.1, -2.5, 65504.0, 6.1e-5, 1e-7, 3.14159], dtype=np.float64)
ts = {"a.f32": vals.astype("<f4").reshape(2, 3), "b.f16": vals.astype("<f2").reshape(3, 2), "c.f64": vals.astype("<f8")}
header, chunks, off = {}, [], 0
for k, v in ts.items():
    b = v.tobytes(); header[k] = {"dtype": {"f": "F32", "e": "F16", "d": "F64"}[v.dtype.char], "shape": list(v.shape), "data_offsets": [off, off + len(b)]}
    chunks.append(b); off += len(b)
h = json.dumps(header).encode()
open(sys.argv[1], "wb").write(struct.pack("<Q", len(h)) + h + b"".join(chunks))
print(json.dumps({k: v.astype(np.float32).ravel().tolist() for k, v in ts.items()}))
`;
    const r = spawnSync(PYTHON, ["-c", code, f], { encoding: "utf8" });
    expect(r.status).toBe(0);
    const expected = JSON.parse(r.stdout) as Record<string, number[]>;
    const got = decodeSafetensors(fs.readFileSync(f), f);
    expect(got.tensors.map((t) => [t.name, t.dims])).toEqual([["a.f32", [2, 3]], ["b.f16", [3, 2]], ["c.f64", [6]]]);
    for (const t of got.tensors) expect(Array.from(t.data)).toEqual(expected[t.name].map(Math.fround));
    // and the other way: numpy reads alexc's file
    const out = path.join(tmp.dir, "ours.safetensors");
    fs.writeFileSync(out, encodeSafetensors(got.tensors, { format: "pt" }));
    const read = spawnSync(PYTHON, ["-c", `import sys; sys.path.insert(0, ${JSON.stringify(path.dirname(SEED_ALEXNET))}); import json, seed_alexnet as s; print(json.dumps({k: v.ravel().tolist() for k, v in s.read_safetensors(sys.argv[1]).items()}))`, out], { encoding: "utf8" });
    expect(read.status).toBe(0);
    const roundTrip = JSON.parse(read.stdout) as Record<string, number[]>;
    for (const t of got.tensors) expect(roundTrip[t.name]).toEqual(Array.from(t.data));
  });
});
