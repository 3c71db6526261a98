/** Element types alexc emits, named as in ONNX's TensorProto.DataType. */
export type DType = "float32" | "float64" | "int64" | "int32" | "uint8" | "bool";

/** A dimension: a number when known at build time, a symbol (e.g. the batch "N") otherwise. */
export type Dim = number | string;
export type Shape = readonly Dim[];

/** The static type of a value in the graph. */
export interface TensorType {
  readonly dtype: DType;
  readonly shape: Shape;
}

/** A named value in a graph: a graph input, an initializer or a node output. */
export interface Value extends TensorType {
  readonly name: string;
}

/** A constant tensor: an initializer or a Constant node's payload. */
export interface TensorData {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  readonly data: Float32Array | Float64Array | BigInt64Array | Int32Array | Uint8Array;
  readonly doc?: string;
}

export function isStatic(shape: Shape): shape is readonly number[] {
  return shape.every((d) => typeof d === "number");
}

export function formatShape(shape: Shape): string {
  return `[${shape.join(",")}]`;
}

export function numel(shape: readonly number[]): number {
  return shape.reduce((a, b) => a * b, 1);
}

/** Builds a tensor from plain numbers, in the typed array that matches `dtype`. */
export function makeTensor(name: string, dtype: DType, dims: readonly number[], values: readonly number[]): TensorData {
  const data =
    dtype === "int64"
      ? BigInt64Array.from(values.map((v) => BigInt(v)))
      : dtype === "float64"
        ? Float64Array.from(values)
        : dtype === "float32"
          ? Float32Array.from(values)
          : dtype === "bool" || dtype === "uint8"
            ? Uint8Array.from(values)
            : Int32Array.from(values);
  return { name, dtype, dims, data };
}

/**
 * Symbolic dims are strings such as "N" or "N*290400" (a symbol times a known factor), enough
 * to follow the batch through flattening reshapes.
 */
export function splitSymbol(d: string): { sym: string; factor: number } {
  const m = /^(.*)\*(\d+)$/.exec(d);
  return m ? { sym: m[1], factor: Number(m[2]) } : { sym: d, factor: 1 };
}

/** The product of dims, symbolic when one of them is. */
export function dimProduct(dims: readonly Dim[]): Dim {
  let factor = 1;
  const syms: string[] = [];
  for (const d of dims) {
    if (typeof d === "number") factor *= d;
    else {
      const s = splitSymbol(d);
      syms.push(s.sym);
      factor *= s.factor;
    }
  }
  if (syms.length === 0) return factor;
  const sym = syms.join("*");
  return factor === 1 ? sym : `${sym}*${factor}`;
}

/** ONNX TensorProto.DataType codes. */
export const DTYPE_CODE: Readonly<Record<DType, number>> = { float32: 1, uint8: 2, int32: 6, int64: 7, bool: 9, float64: 11 };

export function dtypeFromCode(code: number): DType | undefined {
  return (Object.keys(DTYPE_CODE) as DType[]).find((k) => DTYPE_CODE[k] === code);
}
