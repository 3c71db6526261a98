/** ONNX bytes → ModelProto, with a clear error for anything that is not an ONNX model. */
import * as fs from "fs";
import { IoError } from "../graph/errors";
import { onnx } from "./proto";

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
  return m;
}

export function readModelFile(file: string): onnx.ModelProto {
  let bytes: Buffer;
  try {
    bytes = fs.readFileSync(file);
  } catch (e) {
    const err = e as NodeJS.ErrnoException;
    throw new IoError(err.code === "ENOENT" ? `${file}: no such file` : `${file}: cannot read (${err.code})`);
  }
  return decodeModel(bytes, file);
}
