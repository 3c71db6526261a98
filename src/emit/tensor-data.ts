/** The values of a float TensorProto (float32 or float16, raw_data or typed fields) as float32, and of a sparse one. */
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

/**
 * A float32 SparseTensorProto as a dense array: `indices` are either [NNZ] linear positions or
 * [NNZ, rank] coordinates (ONNX IR), absent when there are no values.
 */
export function sparseFloatValues(s: onnx.ISparseTensorProto, file: string): Float32Array {
  const name = s.values?.name ?? "";
  const dims = (s.dims ?? []).map(Number);
  const out = new Float32Array(dims.reduce((a, d) => a * d, 1));
  if (s.values?.dataType !== DT.FLOAT) throw new ModelError(`${file}: sparse tensor '${name}' is not float32`);
  if ((s.values.dims ?? []).some((d) => Number(d) === 0)) return out;
  const values = floatValues(s.values, file);
  const idx = s.indices;
  if (idx && idx.dataType !== DT.INT64) throw new ModelError(`${file}: sparse tensor '${name}' has indices of type ${idx.dataType}, not int64`);
  const positions = idx?.rawData?.length ? Array.from(new BigInt64Array(Uint8Array.from(idx.rawData).buffer), Number) : (idx?.int64Data ?? []).map(Number);
  const rank = (idx?.dims ?? []).length === 2 ? dims.length : 1;
  if (positions.length !== values.length * rank) throw new ModelError(`${file}: sparse tensor '${name}' has ${values.length} values but ${positions.length} indices`);
  for (let i = 0; i < values.length; i++) {
    let at = 0;
    for (let j = 0; j < rank; j++) at = rank === 1 ? positions[i] : at * dims[j] + positions[i * rank + j];
    if (!(at >= 0 && at < out.length)) throw new ModelError(`${file}: sparse tensor '${name}' has an index outside its shape [${dims.join(",")}]`);
    out[at] = values[i];
  }
  return out;
}
