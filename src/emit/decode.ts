/**
 * ONNX bytes → ModelProto, with a clear error for anything that is not an ONNX model, and its
 * names and tensors checked (check-model.ts) before any reader allocates for it.
 */
import { IoError } from "../graph/errors";
import * as protobuf from "protobufjs/minimal";
import { onnx } from "./proto";
import { readInputFile } from "./read-input";
import { checkModel } from "./check-model";

export function decodeModel(bytes: Uint8Array, source: string): onnx.ModelProto {
  let m: onnx.ModelProto;
  try {
    m = onnx.ModelProto.decode(bytes);
  } catch (e) {
    throw new IoError(`${source}: not an ONNX model (${(e as Error).message})`);
  }
  const ir = Number(m.irVersion);
  if (!m.graph || !(ir >= 1 && ir <= 20) || m.opsetImport.length === 0) {
    throw new IoError(`${source}: not an ONNX model (no graph, IR version or opset import)`);
  }
  checkModel(m, source, bytes.byteLength);
  return m;
}

export function readModelFile(file: string): onnx.ModelProto {
  return decodeModel(readInputFile(file), file);
}

/** The value of a metadata_props key, if the model has it. */
export function metadataValue(m: onnx.IModelProto, key: string): string | undefined {
  return (m.metadataProps ?? []).find((p) => p.key === key)?.value ?? undefined;
}

/**
 * Only the metadata_props of an ONNX file (ModelProto field 14), read by skipping the other
 * top-level fields — no graph or weights decoded, so cheap on a large model.
 */
export function readMetadataOnly(bytes: Uint8Array, source: string): Map<string, string> {
  const out = new Map<string, string>();
  try {
    const r = protobuf.Reader.create(bytes);
    while (r.pos < r.len) {
      const tag = r.uint32();
      if (tag >>> 3 === 14 && (tag & 7) === 2) {
        const entry = onnx.StringStringEntryProto.decode(r.bytes());
        out.set(entry.key, entry.value);
      } else {
        r.skipType(tag & 7);
      }
    }
  } catch (e) {
    throw new IoError(`${source}: not an ONNX model (${(e as Error).message})`);
  }
  return out;
}
