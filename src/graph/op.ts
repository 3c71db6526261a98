/**
 * What an op family provides, registered together as JAX registers a primitive's rules: its ONNX
 * op type, the types of the attributes alexc emits, one shape rule, a value rule where the op
 * computes shapes, (for differentiable primitives) one VJP rule, and its lowerings for the
 * execution providers that lack it. The registry in ops/index.ts lists them; emission, partial
 * evaluation, autodiff and the provider lowerings look ops up there.
 */
import type { Graph, GraphBuilder } from "./ir";
import type { Node } from "./ir";
import { ShapeError } from "./errors";
import type { Provider, ProviderLowering } from "./lowering";
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
   * The value of a 1-D input when it is known at build time: a constant, or what the value rules
   * of the ops computing it give (Shape(x): x's dims, possibly symbolic; Slice; Concat).
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
 * reads the pool's input, so onnxruntime frees it after the forward: the largest activations of
 * AlexNet) or as ConstantOfShape(Shape(input)) ("input", which the WebGPU lowering
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
  /**
   * The value rule (partial evaluation): output 0's value when it is a 1-D int64 tensor known at
   * build time, such as a shape with symbolic dims. `input(i)` evaluates input i on demand and is
   * undefined when its value is unknown or the input is left out (`node.inputs[i]` tells which).
   * GraphBuilder.shapeValueOf drives these rules; shape rules read the results via
   * RuleContext.shapeValue.
   */
  value?(node: Node, input: (i: number) => Shape | undefined): Shape | undefined;
  /** Rewrites into ops an execution provider runs well, by provider (graph/lowering.ts). */
  readonly lowerings?: Readonly<Partial<Record<Provider, ProviderLowering>>>;
}

/**
 * A VJP rule for a pair of nodes, applied by the autodiff driver in place of the consumer's own
 * rule when the consumer's input 0 is the output of a `producer` node. Its contract: the cotangent
 * it returns for input 0 is already in the image of the producer's VJP (applying that VJP to it
 * changes nothing), so when that cotangent is all the producer's output receives, the driver
 * passes it through the producer unchanged instead of emitting the producer's rule.
 */
export interface PairVjp {
  /** Names the rule in docs and tests ("relu-maxpool"). */
  readonly name: string;
  readonly producer: string;
  readonly consumer: string;
  vjp(b: GraphBuilder, node: Node, dOut: readonly (Value | undefined)[], wanted: readonly boolean[], opts: GradientOptions): (Value | undefined)[];
}
