/**
 * What an op family provides: its ONNX op type, the types of the attributes alexc emits,
 * one shape rule, and (for differentiable primitives) one VJP rule. The registry in
 * ops/index.ts lists them; emission and autodiff look ops up there.
 */
import type { Graph, GraphBuilder } from "./ir";
import type { Node } from "./ir";
import { ShapeError } from "./errors";
import type { SourceLoc } from "./source";
import type { Shape, TensorData, TensorType, Value } from "./types";

/** "graph": a subgraph, such as a Loop's body. */
export type AttrKind = "int" | "ints" | "float" | "floats" | "string" | "tensor" | "graph";
export type AttrValue = number | readonly number[] | string | TensorData | Graph;
export type Attrs = Readonly<Record<string, AttrValue>>;

/** What a shape rule may ask about the node it is checking. */
export class RuleContext {
  constructor(
    readonly op: string,
    readonly node: string,
    readonly loc: SourceLoc | undefined,
    private readonly shapeValues: (Shape | undefined)[],
  ) {}

  /** Stops the build with a message that names the op, the rule and the numbers. */
  fail(rule: string): never {
    throw new ShapeError(this.op, this.node, rule, this.loc);
  }

  /**
   * The value of a 1-D input when it is known at build time: a constant, or the output of
   * Shape(x) (then the entries are x's dims, possibly symbolic).
   */
  shapeValue(i: number): Shape | undefined {
    return this.shapeValues[i];
  }
}

/**
 * Choices among equal-valued gradient formulations, by the kernels that will run them.
 * `convWeightGrad`: a convolution's weight gradient as one GEMM per kernel offset ("gemm",
 * the default), as one Conv with batch and channels swapped ("conv": fastest on the WebGPU
 * provider, which runs its convolutions far better than many GEMMs over window copies), or by
 * Winograd's algorithm where it applies and as "gemm" elsewhere ("winograd": fastest on
 * onnxruntime's CPU kernels, ops/conv-weight-grad-winograd.ts).
 * `poolScatterZeros`: the zeros max-pooling's gradient scatters into, shaped from the pooled
 * gradient's batch and the input's static dims ("batch", the default: nothing in the backward
 * reads the pool's input, so onnxruntime frees it after the forward — AlexNet's relu1 and relu2,
 * 245 MB at batch 128) or as ConstantOfShape(Shape(input)) ("input", which the WebGPU lowering
 * turns into input · 0 on the GPU).
 */
export interface GradientOptions {
  readonly convWeightGrad?: "gemm" | "conv" | "winograd";
  readonly poolScatterZeros?: "batch" | "input";
  /**
   * The batch the step will run at, and the most bytes the "winograd" weight gradient's
   * transforms may take at once (default 128 MiB): larger batches run in slices.
   */
  readonly batch?: number;
  readonly winogradSliceBytes?: number;
}

export interface OpDef {
  readonly type: string;
  readonly attrs: Readonly<Record<string, AttrKind>>;
  /** The shape rule: output types from input types (undefined = optional input left out). */
  infer(inputs: readonly (TensorType | undefined)[], attrs: Attrs, ctx: RuleContext, outputs: number): TensorType[];
  /**
   * The VJP rule: emits the nodes that map output cotangents to input cotangents.
   * `wanted[i]` says whether input i's cotangent is needed; return undefined for the rest.
   */
  vjp?(b: GraphBuilder, node: Node, dOut: readonly (Value | undefined)[], wanted: readonly boolean[], opts: GradientOptions): (Value | undefined)[];
  /** Inputs that never carry a gradient (indices, shapes, ratios...). */
  readonly nondiff?: readonly number[];
}
