/**
 * One test per class of input the fuzzer (test/fuzz-readers.test.ts) found a reader mishandling —
 * a crash with another error type, a message over several lines or without the file, an
 * allocation sized by a header before the file was checked — each asserting the clean error that
 * the reader gives now.
 */
import * as zlib from "zlib";
import { decodeModel } from "../src/emit/decode";
import { decodeSafetensors } from "../src/emit/safetensors";
import { formatSummary, summarize } from "../src/emit/summary";
import { onnx } from "../src/emit/proto";
import { AlexcError } from "../src/graph/errors";
import { decodePng } from "../src/infer/png";
import { decodeCheckpoint, encodeCheckpoint } from "../src/train/checkpoint";
import { gunzipIfNeeded } from "../src/train/data/idx";
import { withAllocationWatch } from "./helpers/fuzz/guard";
import { readOnnxAsAlexcDoes } from "./helpers/fuzz/onnx-target";
import { tinyCnnOnnx } from "./helpers/fuzz/onnx-seed";
import { encodePng } from "./helpers/fuzz/png-encode";

/** The error `read` throws: one of alexc's, with one line; and the largest allocation it made. */
function refusal(read: () => unknown): { error: AlexcError; largest: number } {
  const { error, largest } = withAllocationWatch(read);
  if (!(error instanceof AlexcError)) throw new Error(`expected an AlexcError, got ${(error as Error)?.stack ?? String(error)}`);
  expect(error.message).not.toMatch(/\n/);
  return { error, largest };
}

describe("ONNX", () => {
  const seed = tinyCnnOnnx();
  /** The tiny CNN's training file with one edit. */
  const edited = (edit: (m: onnx.ModelProto) => void) => {
    const m = onnx.ModelProto.decode(seed);
    edit(m);
    return onnx.ModelProto.encode(m).finish();
  };
  const read = (bytes: Uint8Array) => refusal(() => readOnnxAsAlexcDoes(bytes, "m.onnx"));
  const algorithm = (m: onnx.ModelProto) => m.trainingInfo[0].algorithm as onnx.GraphProto;
  const main = (m: onnx.ModelProto) => m.graph as onnx.GraphProto;
  const nodes = (g: onnx.GraphProto) => g.node as onnx.NodeProto[];

  test("onnx: an inference graph with no output", () => {
    expect(read(edited((m) => (main(m).output = []))).error.message).toBe("m.onnx: the inference graph has no output");
  });

  test("onnx: an inference output that none of its nodes computes", () => {
    const r = read(edited((m) => (main(m).node = nodes(main(m)).filter((n) => !n.output.includes("logits")))));
    expect(r.error.message).toMatch(/^m\.onnx: the inference graph's output 'logits' is computed by none of its nodes$/);
  });

  test("onnx: a node with fewer inputs than its op takes", () => {
    const r = read(edited((m) => nodes(algorithm(m)).find((n) => n.opType === "Sub")!.input.splice(1)));
    expect(r.error.message).toMatch(/^m\.onnx: .*Sub.*needs 2 inputs/);
    expect(r.error.exitCode).toBe(2);
  });

  test("onnx: a sparse tensor claiming more elements than the file could use", () => {
    const r = read(edited((m) => ((algorithm(m).sparseInitializer[0] as onnx.SparseTensorProto).dims = [1e6, 1e6])));
    expect(r.error.message).toMatch(/^m\.onnx training_info\[0\]\.algorithm: sparse tensor '.*' declares 1000000000000 elements, more than a file of this size can use/);
    expect(r.largest).toBeLessThan(1 << 20);
  });

  test("onnx: a dense tensor with huge dims and no data", () => {
    const r = read(edited((m) => Object.assign(main(m).initializer[0], { dims: [1e6, 1e6], rawData: new Uint8Array(), dataType: onnx.TensorProto.DataType.FLOAT16 })));
    expect(r.error.message).toMatch(/^m\.onnx: tensor 'conv1\.weight' holds 0 values for its 1000000000000 elements$/);
  });

  test("onnx: a negative dim", () => {
    expect(read(edited((m) => (main(m).initializer[0].dims = [-4, -5]))).error.message).toMatch(/^m\.onnx: tensor 'conv1\.weight' has dim -4; dims are non-negative integers$/);
  });

  test("onnx: a name holding a newline", () => {
    const r = read(edited((m) => ((m.trainingInfo[0] as onnx.TrainingInfoProto).initializationBinding[0].key = "a\nb")));
    expect(r.error.message).toBe('m.onnx: the name "a\\nb" holds control characters');
  });

  test("onnx: a symbolic dim holding control characters", () => {
    const r = read(edited((m) => ((main(m).output[0].type as onnx.TypeProto).tensorType!.shape!.dim![0].dimParam = "N\n")));
    expect(r.error.message).toBe('m.onnx: the name "N\\n" holds control characters');
  });

  test("onnx: a tensor inside an attribute whose name holds control characters", () => {
    const constant = (m: onnx.ModelProto) => nodes(algorithm(m)).find((n) => n.attribute.some((a) => a.t))!;
    const r = read(edited((m) => (constant(m).attribute.find((a) => a.t)!.t!.name = "v\n")));
    expect(r.error.message).toMatch(/^m\.onnx training_info\[0\]\.algorithm: node '.*' attribute 'value': the name "v\\n" holds control characters$/);
  });

  test("onnx: a training Dropout without its mask output", () => {
    const r = read(edited((m) => nodes(algorithm(m)).find((n) => n.opType === "Dropout")!.output.splice(1)));
    expect(r.error.message).toBe("m.onnx: Dropout 'train/dropout1/Dropout' of the training step needs an input, a mask output and a constant ratio");
  });

  test("onnx: a training step output that none of its nodes computes", () => {
    const r = read(edited((m) => (algorithm(m).node = nodes(algorithm(m)).filter((n) => !n.output.includes("conv1.bias.next")))));
    expect(r.error.message).toBe("m.onnx: the training step's output 'conv1.bias.next' is computed by none of its nodes");
  });

  test("onnx: an attribute value alexc never writes (a Cast to an unknown type)", () => {
    const cast = (m: onnx.ModelProto) => nodes(algorithm(m)).find((n) => n.opType === "Cast")!;
    const r = read(edited((m) => (cast(m).attribute[0].i = 99)));
    expect(r.error.message).toMatch(/^m\.onnx: Cast to unsupported type/);
    expect(r.error.exitCode).toBe(2);
  });

  test("onnx: an attribute its op does not have", () => {
    const r = read(edited((m) => nodes(main(m))[0].attribute.push(onnx.AttributeProto.create({ name: "", type: onnx.AttributeProto.AttributeType.INT, i: 1 }))));
    expect(r.error.message).toMatch(/^m\.onnx: node 'conv1\/Conv' \(Conv\): attribute '' \(int\) is not one of Conv's \(/);
  });

  test("onnx: an op alexc does not know in the training step", () => {
    const r = read(edited((m) => (nodes(algorithm(m)).find((n) => n.opType === "Concat" || n.opType === "Mul")!.opType = "Boncat")));
    expect(r.error.message).toMatch(/^m\.onnx: node '.*' runs "Boncat", an op alexc does not train$/);
  });

  test("onnx: metadata that is not the JSON alexc writes", () => {
    const meta = (key: string, value: string) => edited((m) => (m.metadataProps.find((p) => p.key === key)!.value = value));
    expect(read(meta("alexc.preprocess", "{")).error.message).toBe("m.onnx: metadata alexc.preprocess is not JSON");
    expect(read(meta("alexc.preprocess", '{"raw":{"shape":[1,2]}}')).error.message).toBe("m.onnx: metadata alexc.preprocess has no raw image shape [N, C, H, W]");
    expect(read(meta("alexc.train_defaults", '{"epochs":"3"}')).error.message).toBe('m.onnx: metadata alexc.train_defaults: epochs is "3", not a positive integer');
  });

  test("onnx: a node with neither a name nor outputs (inspect)", () => {
    const m = decodeModel(edited((m) => main(m).node.push(onnx.NodeProto.create({ opType: "Relu", input: ["input"] }))), "m.onnx");
    expect(formatSummary(summarize(m), "m")).toMatch(/^\(unnamed\)\s+Relu\s+\?\s+0$/m);
  });
});

describe("checkpoint", () => {
  /** A valid checkpoint whose header (which the checksum does not cover) is then edited. */
  function withHeader(edit: (h: Record<string, unknown>) => void): Buffer {
    const t = { dims: [2], data: Float32Array.of(1, 2) };
    const buf = Buffer.concat(encodeCheckpoint({ meta: { model: "m", epoch: 1, step: 2, seed: 0, config: {} }, tensors: new Map([["w", t], ["b", t]]) }));
    const hlen = buf.readUInt32LE(10);
    const header = JSON.parse(buf.subarray(14, 14 + hlen).toString()) as Record<string, unknown>;
    edit(header);
    const head = Buffer.from(JSON.stringify(header));
    const len = Buffer.alloc(4);
    len.writeUInt32LE(head.length);
    return Buffer.concat([buf.subarray(0, 10), len, head, buf.subarray(14 + hlen)]);
  }
  const read = (buf: Buffer) => refusal(() => decodeCheckpoint(buf, "c.ckpt"));
  const entries = (h: Record<string, unknown>) => h.tensors as Record<string, unknown>[];

  test("checkpoint: header claims a tensor longer than the file holds (checksum still valid)", () => {
    const r = read(withHeader((h) => Object.assign(entries(h)[0], { dims: [1e12], length: 1e12 })));
    expect(r.error.message).toBe("c.ckpt: corrupt checkpoint: tensor 'w' ends at byte 4000000000000 of a 16-byte tensor section");
    expect(r.largest).toBeLessThan(1 << 16);
  });

  test("checkpoint: header whose tensor list is not a list", () => {
    expect(read(withHeader((h) => (h.tensors = 5))).error.message).toBe("c.ckpt: corrupt checkpoint: header has no tensor list");
  });

  test("checkpoint: duplicated tensor names", () => {
    expect(read(withHeader((h) => (entries(h)[1].name = "w"))).error.message).toBe("c.ckpt: corrupt checkpoint: tensor 'w' appears twice");
  });

  test("checkpoint: progress counters that are not counts", () => {
    expect(read(withHeader((h) => (h.epoch = "1"))).error.message).toBe('c.ckpt: corrupt checkpoint: header field epoch is "1", not a non-negative integer');
    expect(read(withHeader((h) => (h.config = null))).error.message).toBe("c.ckpt: corrupt checkpoint: header has no config object");
  });

  test("checkpoint: dims that do not match the length", () => {
    expect(read(withHeader((h) => (entries(h)[0].dims = [3]))).error.message).toBe("c.ckpt: corrupt checkpoint: tensor 'w' has dims [3] but 2 values");
  });
});

test("safetensors: a header that is not JSON, holding control characters", () => {
  const head = Buffer.from('{"a":\n\u0000}');
  const len = Buffer.alloc(8);
  len.writeBigUInt64LE(BigInt(head.length));
  expect(refusal(() => decodeSafetensors(Buffer.concat([len, head]), "w.safetensors")).error.message).toBe("w.safetensors: not a valid safetensors file: header is not valid JSON");
});

describe("PNG", () => {
  const grey = () => encodePng({ width: 9, height: 7, depth: 8, colour: 0, rowBytes: 9 });

  test("png: a chunk type that is not four letters", () => {
    const png = grey();
    png.write("\n\u0000\u0000\u0000", 12 + 4 + 13 + 4 + 4, "latin1"); // the IDAT chunk's type
    expect(refusal(() => decodePng(png, "i.png")).error.message).toBe("i.png: bad chunk type at byte 37 (not four letters)");
  });

  test("png: header claims a larger image than its data holds", () => {
    const png = encodePng({ width: 60000, height: 7, depth: 8, colour: 6, rowBytes: 9 });
    const r = refusal(() => decodePng(png, "i.png"));
    expect(r.error.message).toMatch(/^i\.png: truncated image data \(70 of 1680007 bytes\)$/);
    expect(r.largest).toBeLessThan(1 << 16);
  });

  test("png: image data that inflates past what the header declares", () => {
    const png = encodePng({ width: 9, height: 7, depth: 8, colour: 0, rowBytes: 900 });
    expect(refusal(() => decodePng(png, "i.png")).error.message).toBe("i.png: corrupt image data (more than the 70 bytes of a 9×7 image)");
  });
});

test("idx: a gzip stream that inflates past what its IDX header declares", () => {
  const idx = Buffer.alloc(8 + 1_000_000);
  idx.writeUInt32BE(0x801, 0);
  idx.writeUInt32BE(10, 4);
  const r = refusal(() => gunzipIfNeeded(zlib.gzipSync(idx), "l.gz"));
  expect(r.error.message).toBe("l.gz: the gzip stream inflates past the 18 bytes its IDX header declares");
});
