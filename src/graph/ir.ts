/**
 * The graph IR and its builder. A node is an ONNX node (op type, inputs, attributes) whose
 * outputs carry static types computed by the op's shape rule when the node is added; names
 * come from the model's structure ("conv1/Conv"), never from global counters, so the same
 * model always gives the same graph.
 */
import { AttrKind, AttrValue, Attrs, OpDef, RuleContext } from "./op";
import { lookupOp, findOp } from "./ops";
import type { SourceLoc } from "./source";
import { DType, makeTensor, Shape, TensorData, TensorType, Value } from "./types";

export interface Node {
  readonly name: string;
  readonly op: string;
  /** The operator set the op belongs to; absent for the default ONNX domain. */
  readonly domain?: string;
  /**
   * The attribute kinds of a node whose op is outside alexc's registry (a custom domain's op, or
   * a standard op alexc does not define); registered ops take theirs from the registry.
   */
  readonly attrKinds?: Readonly<Record<string, AttrKind>>;
  /** Input values; undefined for an optional input that is left out. */
  readonly inputs: readonly (Value | undefined)[];
  readonly outputs: readonly Value[];
  readonly attrs: Attrs;
  readonly doc?: string;
  readonly loc?: SourceLoc;
}

export interface Graph {
  readonly name: string;
  readonly doc?: string;
  readonly inputs: readonly Value[];
  readonly outputs: readonly Value[];
  readonly initializers: readonly TensorData[];
  readonly nodes: readonly Node[];
}

/** A node outside the registry: its outputs' types are given, since no shape rule knows them. */
export interface ExternalOp {
  readonly domain?: string;
  readonly attrs?: Readonly<Record<string, AttrValue>>;
  readonly attrKinds?: Readonly<Record<string, AttrKind>>;
  readonly outputs: readonly TensorType[];
}

export interface OpOptions {
  /** Node name; the default is `<scope>/<OpType>`. */
  name?: string;
  /** Output value names; the default is the node name (plus `:i` past the first output). */
  outputNames?: string[];
  /** How many outputs to produce (for ops with optional outputs). */
  outputs?: number;
  doc?: string;
  loc?: SourceLoc;
}

export class GraphBuilder {
  readonly nodes: Node[] = [];
  readonly inputs: Value[] = [];
  readonly outputs: Value[] = [];
  readonly initializers = new Map<string, TensorData>();
  private readonly values = new Map<string, Value>();
  private readonly producers = new Map<string, Node>();
  private readonly usedNodeNames = new Set<string>();
  private readonly scopes: string[] = [];
  /** Old name → value, for node outputs renamed in place by output(). */
  private readonly aliases = new Map<string, Value>();

  constructor(readonly name: string) {}

  /** Runs `fn` with names prefixed by `scope/`. */
  scoped<T>(scope: string, fn: () => T): T {
    this.scopes.push(scope);
    try {
      return fn();
    } finally {
      this.scopes.pop();
    }
  }

  get scope(): string {
    return this.scopes.join("/");
  }

  input(name: string, dtype: DType, shape: Shape): Value {
    const v = this.declare({ name, dtype, shape });
    this.inputs.push(v);
    return v;
  }

  initializer(t: TensorData): Value {
    if (this.initializers.has(t.name)) throw new Error(`internal: initializer '${t.name}' defined twice`);
    this.initializers.set(t.name, t);
    return this.declare({ name: t.name, dtype: t.dtype, shape: t.dims });
  }

  /** A constant, stored once per distinct content (its name is derived from the content). */
  constant(dtype: DType, dims: readonly number[], values: readonly number[]): Value {
    const name = `const/${dtype}/${dims.join("x") || "scalar"}/${values.join("_")}`;
    const existing = this.values.get(name);
    if (existing) return existing;
    return this.initializer(makeTensor(name, dtype, dims, values));
  }

  scalar(value: number, dtype: DType = "float32"): Value {
    return this.constant(dtype, [], [value]);
  }

  ints(values: readonly number[]): Value {
    return this.constant("int64", [values.length], values);
  }

  /** Adds an external value (e.g. one defined by an enclosing graph) without declaring it an input. */
  adopt(v: Value): Value {
    return this.values.get(v.name) ?? this.declare(v);
  }

  value(name: string): Value | undefined {
    return this.values.get(name);
  }

  producer(v: Value): Node | undefined {
    return this.producers.get(v.name);
  }

  /**
   * Marks `v` as a graph output named `name`. A node output nothing reads yet is renamed in
   * place: an Identity would copy the whole value (a full memory pass per step for a large weight).
   */
  output(value: Value, name?: string): Value {
    const v = this.aliases.get(value.name) ?? value;
    let out = v;
    if (name && name !== v.name) out = this.renameUnused(v, name) ?? this.op1("Identity", [v], {}, { name: `${name}/Identity`, outputNames: [name] });
    this.outputs.push(out);
    return out;
  }

  /**
   * Gives a node output the graph-output name in place, in its producer and in every consumer so
   * far (later consumers find it through `aliases`), rather than copying it through an Identity,
   * which for a step's updated parameters and moments is a measurable share of the step
   * (docs/performance-log.md).
   */
  private renameUnused(v: Value, name: string): Value | undefined {
    const producer = this.producers.get(v.name);
    if (!producer || this.values.has(name) || this.outputs.some((o) => o.name === v.name)) return undefined;
    const renamed: Value = { name, dtype: v.dtype, shape: v.shape };
    const swap = <T extends Value | undefined>(x: T): T | Value => (x?.name === v.name ? renamed : x);
    this.nodes.forEach((n, i) => {
      if (n !== producer && !n.inputs.some((x) => x?.name === v.name)) return;
      const node: Node = { ...n, inputs: n.inputs.map(swap), outputs: n.outputs.map(swap) };
      this.nodes[i] = node;
      for (const o of node.outputs) this.producers.set(o.name, node);
    });
    this.producers.delete(v.name);
    this.values.delete(v.name);
    this.values.set(name, renamed);
    this.aliases.set(v.name, renamed);
    return renamed;
  }

  /** Adds a node; its output types come from the op's shape rule (which may throw a ShapeError). */
  op(type: string, inputs: readonly (Value | undefined)[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): Value[] {
    const def: OpDef = lookupOp(type);
    inputs = inputs.map((v) => (v ? (this.aliases.get(v.name) ?? v) : v));
    const name = this.uniqueNodeName(opts.name ?? (this.scope ? `${this.scope}/${type}` : type));
    const loc = opts.loc;
    for (const key of Object.keys(attrs)) {
      if (!(key in def.attrs)) throw new Error(`internal: ${type} has no attribute '${key}'`);
    }
    const shapeValues = inputs.map((v) => (v ? this.shapeValueOf(v) : undefined));
    const ctx = new RuleContext(type, opts.name ? name : this.scope || name, loc, shapeValues);
    const count = opts.outputs ?? opts.outputNames?.length ?? 1;
    const types = def.infer(inputs, attrs, ctx, count);
    const outputs = types.slice(0, count).map((t, i) =>
      this.declare({ name: opts.outputNames?.[i] ?? (i === 0 ? name : `${name}:${i}`), dtype: t.dtype, shape: t.shape }),
    );
    const node: Node = { name, op: type, inputs, outputs, attrs, doc: opts.doc, loc };
    this.nodes.push(node);
    for (const o of outputs) this.producers.set(o.name, node);
    return outputs;
  }

  op1(type: string, inputs: readonly (Value | undefined)[], attrs: Record<string, AttrValue> = {}, opts: OpOptions = {}): Value {
    return this.op(type, inputs, attrs, opts)[0];
  }

  /**
   * Adds a node whose op the registry does not define (e.g. onnxruntime's com.microsoft.nchwc
   * kernels, or Loop), with the output types the caller states: the one place where a node's
   * types come from outside a shape rule.
   */
  external(type: string, inputs: readonly (Value | undefined)[], spec: ExternalOp, opts: OpOptions = {}): Value[] {
    inputs = inputs.map((v) => (v ? (this.aliases.get(v.name) ?? v) : v));
    const name = this.uniqueNodeName(opts.name ?? (this.scope ? `${this.scope}/${type}` : type));
    const outputs = spec.outputs.map((t, i) =>
      this.declare({ name: opts.outputNames?.[i] ?? (i === 0 ? name : `${name}:${i}`), dtype: t.dtype, shape: t.shape }),
    );
    const attrKinds = spec.attrKinds ?? {};
    for (const key of Object.keys(spec.attrs ?? {})) {
      if (!(key in attrKinds)) throw new Error(`internal: ${type} '${name}': attribute '${key}' has no kind`);
    }
    const node: Node = { name, op: type, domain: spec.domain || undefined, attrKinds, inputs, outputs, attrs: spec.attrs ?? {}, doc: opts.doc, loc: opts.loc };
    this.nodes.push(node);
    for (const o of outputs) this.producers.set(o.name, node);
    return outputs;
  }

  /**
   * Adds a node of another graph unchanged but for its inputs (default: its own), with the output
   * types it already has: how a pass keeps the nodes it does not rewrite.
   */
  keep(node: Node, inputs: readonly (Value | undefined)[] = node.inputs): Value[] {
    inputs = inputs.map((v) => (v ? (this.aliases.get(v.name) ?? v) : v));
    const name = this.uniqueNodeName(node.name);
    const outputs = node.outputs.map((o) => this.declare(o));
    const kept: Node = { ...node, name, inputs, outputs };
    this.nodes.push(kept);
    for (const o of outputs) this.producers.set(o.name, kept);
    return outputs;
  }

  build(doc?: string): Graph {
    return {
      name: this.name,
      doc,
      inputs: [...this.inputs],
      outputs: [...this.outputs],
      initializers: [...this.initializers.values()],
      nodes: [...this.nodes],
    };
  }

  /** Every value with its type, for value_info. */
  allValues(): Value[] {
    return [...this.values.values()];
  }

  private declare(v: Value): Value {
    if (this.values.has(v.name)) throw new Error(`internal: value '${v.name}' defined twice`);
    const frozen: Value = { name: v.name, dtype: v.dtype, shape: [...v.shape] };
    this.values.set(v.name, frozen);
    return frozen;
  }

  private uniqueNodeName(base: string): string {
    let name = base;
    for (let i = 2; this.usedNodeNames.has(name) || this.values.has(name); i++) name = `${base}_${i}`;
    this.usedNodeNames.add(name);
    return name;
  }

  /**
   * The value of `v` when it is a 1-D int64 tensor known at build time: a 1-D constant, or what
   * its producer's value rule (OpDef.value) makes of its inputs, evaluated on demand.
   */
  shapeValueOf(v: Value): Shape | undefined {
    const init = this.initializers.get(v.name);
    if (init) return init.dims.length === 1 ? Array.from(init.data as ArrayLike<number | bigint>, Number) : undefined;
    const p = this.producers.get(v.name);
    if (!p || p.outputs[0]?.name !== v.name) return undefined;
    // Only standard ONNX ops have value rules; a node of another domain (e.g. NCHWc) has none.
    const def = p.domain ? undefined : findOp(p.op);
    return def?.value?.(p, (k) => (p.inputs[k] ? this.shapeValueOf(p.inputs[k]!) : undefined));
  }
}

