/**
 * The op registry: every op alexc can emit, by ONNX op type, each OpDef holding all its rules
 * (shape, value, VJP, provider lowerings); and the pair VJP rules. Adding an op = one file (plus
 * a <family>.webgpu.ts beside it if the WebGPU provider lacks the op) + one line here.
 */
import type { OpDef, PairVjp } from "../op";
import { BatchNormalization } from "./batchnorm";
import { Add, And, Div, Equal, Greater, Less, Mul, Or, Pow, Sub, Where } from "./binary";
import { Conv, ConvTranspose } from "./conv";
import { Dropout } from "./dropout";
import { Gemm, MatMul } from "./gemm";
import { Concat, ConstantOfShape, Expand, Flatten, Pad, Range, Reshape, Shape_, Size, Slice, Transpose } from "./layout";
import { AveragePool, GlobalAveragePool, MaxPool, ReluMaxPool } from "./pool";
import { ReduceMax, ReduceMean, ReduceSum, Unsqueeze } from "./reduce";
import { Resize } from "./resize";
import { ScatterElements } from "./scatter";
import { ArgMax, LogSoftmax, OneHot, Softmax, SoftmaxCrossEntropyLoss } from "./softmax";
import { Abs, Cast, Ceil, Clip, Exp, Identity, Log, Neg, Not, Relu, Round, Sigmoid, Sign, Sqrt, Tanh } from "./unary";

const ALL: OpDef[] = [
  Conv, ConvTranspose, MaxPool, AveragePool, GlobalAveragePool, BatchNormalization, Gemm, MatMul,
  Relu, Sigmoid, Tanh, Exp, Log, Neg, Sqrt, Abs, Sign, Round, Ceil, Clip, Not, Identity, Cast,
  Add, Sub, Mul, Div, Pow, Greater, Less, Equal, And, Or, Where,
  Flatten, Reshape, Transpose, Slice, Concat, Pad, Range, Expand, Shape_, Size, ConstantOfShape, Unsqueeze,
  ReduceSum, ReduceMean, ReduceMax, Dropout, Softmax, LogSoftmax, SoftmaxCrossEntropyLoss, OneHot, ArgMax,
  ScatterElements, Resize,
];

const REGISTRY: ReadonlyMap<string, OpDef> = new Map(ALL.map((d) => [d.type, d]));

/** VJP rules over producer → consumer pairs (op.ts, PairVjp), which autodiff applies. */
const PAIR_VJPS: readonly PairVjp[] = [ReluMaxPool];

export function lookupOp(type: string): OpDef {
  const def = REGISTRY.get(type);
  if (!def) throw new Error(`internal: op '${type}' is not in the registry`);
  return def;
}

export function registeredOps(): string[] {
  return [...REGISTRY.keys()];
}

/** The op's definition, or undefined for an op alexc does not emit (Loop in an imported graph). */
export function findOp(type: string): OpDef | undefined {
  return REGISTRY.get(type);
}

/** The pair rule for a `consumer` node whose input 0 a `producer` node computes, if there is one. */
export function lookupPairVjp(producer: string, consumer: string): PairVjp | undefined {
  return PAIR_VJPS.find((r) => r.producer === producer && r.consumer === consumer);
}
