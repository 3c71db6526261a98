/**
 * The mutable tensors of a training file (ModelProto.training_info[0]) and their stored values:
 * the parameters are inference-graph initialisers, the optimizer state and the step counter are
 * algorithm initialisers, dense or (a fresh `alexc build`) sparse. Reads every layout alexc has
 * written: state as dense zeros (files built before the initialization graph), compact, trained.
 * Layout and step contract: docs/training-graph.md.
 */
import { ModelError } from "../graph/errors";
import { DTYPE_CODE, dtypeFromCode, makeTensor, type DType } from "../graph/types";
import { tensorProto } from "../emit/encode";
import type { onnx } from "../emit/proto";
import { floatValues, sparseFloatValues } from "../emit/tensor-data";
import { next, STEP_COUNTER } from "./step";

export interface StateVariable {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
  /** True for a parameter (an initialiser of the inference graph), false for optimizer state and the step. */
  readonly parameter: boolean;
}

export interface TrainingState {
  /** update_binding: mutable tensor → the algorithm output that replaces it. */
  readonly updates: ReadonlyMap<string, string>;
  /** Every bound tensor, in update_binding order, as its initialiser declares it. */
  readonly variables: readonly StateVariable[];
  /** The stored values of the float tensors (sparse ones made dense) and the step counter. */
  values(): { tensors: Map<string, Float32Array>; step: number };
}

/** Checks the bindings against alexc's step contract; throws a ModelError naming the file otherwise. */
export function readTrainingState(m: onnx.IModelProto, file: string): TrainingState {
  const ti = m.trainingInfo?.[0];
  const alg = ti?.algorithm;
  if (!ti || !alg) throw new ModelError(`${file}: has no training_info; build it with \`alexc build\` (without --no-training)`);
  const main = new Map((m.graph?.initializer ?? []).map((t) => [t.name!, t]));
  const dense = new Map((alg.initializer ?? []).map((t) => [t.name!, t]));
  const sparse = new Map((alg.sparseInitializer ?? []).map((t) => [t.values?.name ?? "", t]));
  const updates = new Map((ti.updateBinding ?? []).map((b) => [b.key!, b.value!]));
  const variables: StateVariable[] = [];
  for (const [key, value] of updates) {
    if (value !== next(key)) throw new ModelError(`${file}: update_binding ${key} → ${value} does not follow alexc's step contract (${next(key)})`);
    const t = main.get(key) ?? dense.get(key);
    const s = sparse.get(key);
    if (!t && !s) throw new ModelError(`${file}: update_binding names '${key}', which is no initialiser`);
    const code = t ? t.dataType : s!.values!.dataType;
    const dtype = dtypeFromCode(code ?? 0);
    if (!dtype) throw new ModelError(`${file}: state tensor '${key}' has element type ${code}, which alexc does not train`);
    variables.push({ name: key, dtype, dims: ((t ?? s)!.dims ?? []).map(Number), parameter: main.has(key) });
  }
  if (!updates.has(STEP_COUNTER)) throw new ModelError(`${file}: training_info has no '${STEP_COUNTER}' counter`);
  const outputs = new Set((ti.initialization?.output ?? []).map((o) => o.name));
  for (const b of ti.initializationBinding ?? []) {
    if (!updates.has(b.key!)) throw new ModelError(`${file}: initialization_binding names '${b.key}', which update_binding does not`);
    if (!outputs.has(b.value)) throw new ModelError(`${file}: initialization_binding ${b.key} → '${b.value}', which is no output of the initialization graph`);
  }

  return {
    updates,
    variables,
    values() {
      const tensors = new Map<string, Float32Array>();
      let step = 0;
      for (const v of variables) {
        const t = main.get(v.name) ?? dense.get(v.name);
        if (v.name === STEP_COUNTER) step = t ? int64Scalar(t, file) : 0;
        else tensors.set(v.name, t ? floatValues(t, file) : sparseFloatValues(sparse.get(v.name)!, file));
      }
      return { tensors, step };
    },
  };
}

/**
 * The file with these values for its bound tensors (a trained model): parameters replaced in the
 * inference graph, state and step in the algorithm, sparse state stored dense from now on.
 */
export function withTrainingState(m: onnx.IModelProto, tensors: ReadonlyMap<string, Float32Array>, step: number): onnx.IModelProto {
  const [ti, ...rest] = m.trainingInfo ?? [];
  const bound = new Set((ti?.updateBinding ?? []).map((b) => b.key!));
  const replace = (t: onnx.ITensorProto): onnx.ITensorProto => {
    if (t.name === STEP_COUNTER && bound.has(STEP_COUNTER)) return tensorProto(makeTensor(STEP_COUNTER, "int64", [], [step]));
    const v = bound.has(t.name!) ? tensors.get(t.name!) : undefined;
    return v ? { ...t, rawData: rawBytes(v), floatData: [] } : t;
  };
  const alg = ti?.algorithm ?? {};
  const sparse = alg.sparseInitializer ?? [];
  const densified = sparse
    .filter((s) => bound.has(s.values?.name ?? "") && tensors.has(s.values!.name!))
    .map((s): onnx.ITensorProto => ({ name: s.values!.name, dataType: s.values!.dataType, dims: s.dims, rawData: rawBytes(tensors.get(s.values!.name!)!) }));
  const stillSparse = sparse.filter((s) => !densified.some((d) => d.name === s.values?.name));
  return {
    ...m,
    graph: { ...m.graph, initializer: (m.graph?.initializer ?? []).map(replace) },
    trainingInfo: ti
      ? [{ ...ti, algorithm: { ...alg, initializer: [...(alg.initializer ?? []).map(replace), ...densified], sparseInitializer: stillSparse } }, ...rest]
      : [],
  };
}

function rawBytes(v: Float32Array): Uint8Array {
  return new Uint8Array(v.buffer, v.byteOffset, v.byteLength);
}

function int64Scalar(t: onnx.ITensorProto, file: string): number {
  if (t.dataType !== DTYPE_CODE.int64 || (t.dims ?? []).length !== 0) throw new ModelError(`${file}: '${t.name}' must be an int64 scalar`);
  if (t.rawData && t.rawData.length === 8) return Number(Buffer.from(t.rawData).readBigInt64LE(0));
  return Number(t.int64Data?.[0] ?? 0);
}
