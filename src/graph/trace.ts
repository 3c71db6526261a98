/** Runs a model's forward function on a tracer: the step from DSL to graph IR. */
import { initializedParams, ModelDef, ParamSource, Tensor, TraceOptions, Tracer } from "./dsl";
import { ModelError, ShapeError } from "./errors";
import { GraphBuilder } from "./ir";
import { formatShape, numel, Value } from "./types";

export interface Traced {
  readonly output: Value;
  readonly params: readonly Value[];
  /** Model state without a gradient (BatchNorm's running statistics). */
  readonly buffers: readonly Value[];
  /** A training trace's next value of each buffer, by name. */
  readonly bufferUpdates: ReadonlyMap<string, Value>;
}

/** Traces `def.forward` on `input` inside builder `b`. */
export function trace(def: ModelDef, b: GraphBuilder, input: Value, opts: TraceOptions): Traced {
  const tracer = new Tracer(b, opts);
  const out = def.forward(new Tensor(input, tracer));
  if (!(out instanceof Tensor)) {
    throw new ModelError(`model '${def.spec.name}': forward must return a Tensor, got ${typeof out}`);
  }
  return { output: out.value, params: tracer.paramValues, buffers: tracer.bufferValues, bufferUpdates: tracer.bufferUpdates };
}

/** The inference graph: float input → logits, parameters as initialisers. */
export function buildInferenceGraph(
  def: ModelDef,
  seed: number,
  weights?: ReadonlyMap<string, Float32Array>,
): { b: GraphBuilder; output: Value; params: readonly Value[] } {
  const spec = def.spec;
  const b = new GraphBuilder(spec.name);
  const input = b.input(spec.inputName ?? "input", "float32", spec.input);
  const fresh = initializedParams(seed, spec.init);
  const source: ParamSource = weights
    ? (bb, name, dims, fanIn, init) => {
        const data = weights.get(name);
        if (!data) return fresh(bb, name, dims, fanIn, init);
        if (data.length !== numel(dims)) throw new ModelError(`parameter '${name}' has ${data.length} values, the model expects ${formatShape(dims)}`);
        return bb.initializer({ name, dtype: "float32", dims, data });
      }
    : fresh;
  const { output, params } = trace(def, b, input, { params: source, training: false });
  const outShape = output.shape;
  if (outShape.length !== 2) {
    throw new ShapeError("output", spec.name, `a classifier must end in [N, classes], got ${formatShape(outShape)}`, def.loc);
  }
  if (spec.classes && typeof outShape[1] === "number" && outShape[1] !== spec.classes.length) {
    throw new ShapeError("output", spec.name, `the model declares ${spec.classes.length} classes but returns ${outShape[1]} logits`, def.loc);
  }
  b.output(output, "logits");
  return { b, output, params };
}

/** The model's parameters and buffers, by name and shape, traced without initialising any. */
export function parameterShapes(def: ModelDef): { name: string; dims: number[] }[] {
  const b = new GraphBuilder(def.spec.name);
  const input = b.input(def.spec.inputName ?? "input", "float32", def.spec.input);
  const { params, buffers } = trace(def, b, input, { params: (bb, name, dims) => bb.input(name, "float32", dims), training: false });
  return [...params, ...buffers].map((p) => ({ name: p.name, dims: p.shape.map(Number) }));
}
