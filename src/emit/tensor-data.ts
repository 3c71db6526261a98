/** The values of a float TensorProto (float32 or float16, raw_data or typed fields) as float32. */
import { ModelError } from "../graph/errors";
import { float16ToFloat32 } from "./float16";
import { onnx } from "./proto";

const DT = onnx.TensorProto.DataType;

export function floatValues(t: onnx.ITensorProto, where: string): Float32Array {
  const count = (t.dims ?? []).reduce<number>((a, d) => a * Number(d), 1);
  if (t.dataType === DT.FLOAT) {
    if (t.rawData && t.rawData.length === count * 4) {
      const out = new Float32Array(count);
      new Uint8Array(out.buffer).set(t.rawData);
      return out;
    }
    if (t.floatData && t.floatData.length === count) return Float32Array.from(t.floatData);
  } else if (t.dataType === DT.FLOAT16) {
    const out = new Float32Array(count);
    if (t.rawData && t.rawData.length === count * 2) {
      const raw = Buffer.from(t.rawData.buffer, t.rawData.byteOffset, t.rawData.byteLength);
      for (let i = 0; i < count; i++) out[i] = float16ToFloat32(raw.readUInt16LE(2 * i));
      return out;
    }
    // float16 bits travel in int32_data when not raw
    if (t.int32Data && t.int32Data.length === count) {
      for (let i = 0; i < count; i++) out[i] = float16ToFloat32(t.int32Data[i]);
      return out;
    }
  } else {
    throw new ModelError(`${where}: tensor '${t.name}' is not float32 or float16`);
  }
  throw new ModelError(`${where}: tensor '${t.name}' holds no data for its ${count} elements`);
}
