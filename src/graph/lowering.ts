/**
 * Provider lowerings: an op's rewrite into ops an execution provider runs (or runs well), kept in
 * the op's OpDef (`lowerings`) beside its shape and VJP rules. A driver such as
 * passes/webgpu.ts walks a graph, hands each node whose op has an entry for its provider to
 * that entry, and copies the rest. An entry emits into a fresh builder and names its outputs as the
 * node named them, so that the lowered graph keeps the original's values under the same names.
 */
import type { GraphBuilder, Node } from "./ir";
import type { Shape, TensorData, Value } from "./types";

/** The execution providers that have lowerings in op files. */
export type Provider = "webgpu";

/** A graph input the lowered graph adds for a Dropout's keep-mask, which the trainer draws. */
export interface MaskInput {
  readonly name: string;
  /** Mask shape; the first dim is the batch. */
  readonly shape: readonly (number | string)[];
  /** Drop probability. */
  readonly p: number;
}

/** What a lowering may ask about the graph it rewrites (the original) and the one it builds. */
export interface LoweringContext {
  /** The builder of the lowered graph. */
  readonly b: GraphBuilder;
  /** The lowered graph's value for a value of the original graph (undefined stays undefined). */
  value(v: Value | undefined): Value | undefined;
  /** The data of an initializer of the original graph, if `v` is one. */
  constant(v: Value | undefined): TensorData | undefined;
  /** The node of the original graph that computes `v`. */
  producer(v: Value | undefined): Node | undefined;
  /** The nodes of the original graph that read `v`. */
  readers(v: Value): readonly Node[];
  /** Whether `v` is an output of the original graph. */
  isOutput(v: Value): boolean;
  /** Declares a bool graph input for a dropout keep-mask of drop probability `p`. */
  maskInput(name: string, shape: Shape, p: number): Value;
}

export interface ProviderLowering {
  /**
   * The node's outputs in the lowered graph, in order (an empty list: the node is dropped, its
   * readers being lowered too), or undefined when this node needs no rewrite and is copied.
   * `ins` are the node's inputs in the lowered graph.
   */
  rewrite(ctx: LoweringContext, node: Node, ins: readonly (Value | undefined)[]): Value[] | undefined;
  /** The largest batch the rewrite computes exactly (e.g. int32 indices), if it is bounded. */
  maxBatch?(node: Node): number;
}
