/**
 * The model DSL. A model file exports `model(spec, forward)`; `forward` chains layer methods
 * on a Tensor, PyTorch-style. Each call runs its op's shape rule at once, so a shape error
 * stops the build at the model line that caused it. Layers with parameters read their input
 * size from the incoming shape.
 */
import { batchNormLayer, type BatchNormOptions } from "./batchnorm-layer";
import { ModelError, ShapeError } from "./errors";
import { GraphBuilder } from "./ir";
import { initDoc, initialValues, WEIGHT_INITS, type WeightInit } from "./init";
import { captureSource, formatSource, SourceLoc } from "./source";
import type {
  AdaptivePoolResult,
  BatchNormResult,
  BroadcastResult,
  Check,
  CheckUnless,
  CheckWhen,
  ConcatResult,
  Conv2dResult,
  DropoutError,
  FlattenResult,
  GlobalPoolResult,
  KnownOptions,
  LinearMismatch,
  LinearResult,
  MatMulResult,
  MessageCheck,
  OperandShape,
  OutShape,
  Pool2dResult,
  ResidualResult,
  Shape,
  ShapeOf,
} from "./shape-types";
import { Dim, DType, formatShape, numel, Value } from "./types";

/** The symbolic batch dimension. */
export const N = "N" as const;

export interface TrainDefaults {
  epochs?: number;
  batchSize?: number;
  lr?: number;
  /** adamw: decoupled weight decay (torch.optim.AdamW; weightDecay defaults to 0.01). */
  optimizer?: "adam" | "adamw" | "sgd";
  momentum?: number;
  weightDecay?: number;
  /** Cross-entropy label smoothing ε in [0, 1) (PyTorch's CrossEntropyLoss(label_smoothing); 0). */
  labelSmoothing?: number;
  /** The learning-rate schedule (src/train/schedule.ts); constant when absent. */
  schedule?: ScheduleSpec;
  /** Training-image augmentation (src/train/data/augment.ts); none when absent. */
  augment?: AugmentSpec;
}

/**
 * Augmentation of the training images, each drawn per image from the run's seed, in this order
 * (torchvision's names): RandomCrop(size, padding), RandomHorizontalFlip(0.5),
 * ColorJitter(brightness, contrast), RandomErasing(p, value 0). Evaluation is never augmented.
 */
export interface AugmentSpec {
  /** RandomCrop: pad by this many zero pixels on each side, crop back to the size at a random offset. */
  readonly cropPadding?: number;
  /** RandomHorizontalFlip with probability 0.5. */
  readonly flip?: boolean;
  /** ColorJitter's brightness: a factor uniform in [max(0, 1 − b), 1 + b]. */
  readonly brightness?: number;
  /** ColorJitter's contrast: a factor uniform in [max(0, 1 − c), 1 + c]. */
  readonly contrast?: number;
  /** RandomErasing's probability (scale 0.02–0.33 of the area, aspect ratio 0.3–3.3, value 0). */
  readonly erasing?: number;
}

/** A learning-rate schedule's settings (src/train/schedule.ts defines each; the peak lr is `lr`). */
export interface ScheduleSpec {
  readonly kind: "constant" | "step" | "cosine" | "onecycle";
  /** step: optimizer steps between decays. */
  readonly stepSize?: number;
  /** step: the decay factor (PyTorch's default 0.1). */
  readonly gamma?: number;
  /** cosine: linear warm-up steps (0). */
  readonly warmupSteps?: number;
  /** cosine: the warm-up starts at lr · this (LinearLR's default 1/3). */
  readonly warmupStartFactor?: number;
  /** cosine: the lr at the last step (0). */
  readonly minLr?: number;
  /** cosine, onecycle: the steps the schedule spans (default: the run's, epochs × batches per epoch). */
  readonly totalSteps?: number;
}

export interface Preprocess {
  /** Raw images as stored by the dataset: uint8 [N, C, H, W]. */
  readonly raw: readonly [number, number, number];
  /** Bilinear resize (half-pixel centres) of the raw image to this square size, after scaling to [0, 1]. */
  readonly resize?: number;
}

export interface ModelSpec<In extends Shape = Shape> {
  readonly name: string;
  readonly doc?: string;
  /** The inference input, e.g. [N, 1, 224, 224]. */
  readonly input: In;
  readonly inputName?: string;
  readonly classes?: readonly string[];
  readonly preprocess?: Preprocess;
  readonly train?: TrainDefaults;
  /**
   * PyTorch module paths of the layers, for weights in and out (`alexc export-weights`,
   * `--init-from`): `{ conv1: "conv.0" }` names conv1's weight `conv.0.weight`, as the
   * state_dict of the PyTorch class this model mirrors. Layers not listed keep alexc's names.
   */
  readonly torchNames?: Readonly<Record<string, string>>;
  /**
   * How the weights start (src/graph/init.ts): "pytorch" (default), each module's own
   * initialisation; "xavier", Xavier-uniform Conv and Linear weights as d2l's `train_ch6` sets them.
   */
  readonly init?: WeightInit;
}

export interface ModelDef {
  readonly kind: "alexc.model";
  readonly spec: ModelSpec;
  readonly forward: (x: Tensor) => Tensor;
  readonly loc?: SourceLoc;
}

/** `In` is `const`: `input: [N, 1, 28, 28]` types `x` as `Tensor<readonly ["N", 1, 28, 28]>`. */
export function model<const In extends Shape>(spec: ModelSpec<In>, forward: (x: Tensor<In>) => Tensor): ModelDef;
export function model(spec: ModelSpec, forward: (x: Tensor) => Tensor): ModelDef {
  const loc = captureSource();
  if (spec.init !== undefined && !WEIGHT_INITS.includes(spec.init)) {
    const where = loc ? `${formatSource(loc)}: ` : "";
    throw new ModelError(`${where}model '${spec.name}': unknown init ${JSON.stringify(spec.init)} (one of ${WEIGHT_INITS.join(", ")})`);
  }
  return { kind: "alexc.model", spec, forward, loc };
}

export function isModelDef(v: unknown): v is ModelDef {
  return typeof v === "object" && v !== null && (v as ModelDef).kind === "alexc.model";
}

/**
 * How a traced tensor starts and what it is: `fill` for a constant start (PyTorch's BatchNorm
 * weight 1, bias 0, running mean 0 and variance 1), else U(±1/√fanIn); `buffer` for model state
 * that no gradient reaches (BatchNorm's running statistics, PyTorch's buffers).
 */
export interface TensorInit {
  readonly fill?: number;
  readonly buffer?: boolean;
}

/** Where a traced layer gets its parameters and buffers: fresh initialisers, or graph inputs of a training step. */
export type ParamSource = (b: GraphBuilder, name: string, dims: number[], fanIn: number, init?: TensorInit) => Value;

export function initializedParams(seed: number, scheme: WeightInit = "pytorch"): ParamSource {
  return (b, name, dims, fanIn, init = {}) =>
    b.initializer({
      name,
      dtype: "float32",
      dims,
      data: initialValues(seed, name, dims, fanIn, init.fill, scheme),
      doc: initDoc(dims, fanIn, init.fill, scheme),
    });
}

export interface TraceOptions {
  readonly params: ParamSource;
  /** Training mode: Dropout live (with mask), MaxPool with argmax indices for its gradient. */
  readonly training: boolean;
  /** Prefix for node and value names, so a training forward can sit beside the inference one. */
  readonly prefix?: string;
  /** Dropout off even in training mode (comparisons with a deterministic reference). */
  readonly dropout?: boolean;
  /** Seed of the runtime's dropout generators. */
  readonly dropoutSeed?: number;
}

/** Per-trace state: the builder, the naming counters, the parameter source. */
export class Tracer {
  private readonly counters = new Map<string, number>();
  private readonly blocks: string[] = [];
  readonly paramValues: Value[] = [];
  readonly bufferValues: Value[] = [];
  /** Training: each buffer's value after the step (BatchNorm's running statistics), by name. */
  readonly bufferUpdates = new Map<string, Value>();
  constructor(readonly b: GraphBuilder, readonly opts: TraceOptions) {}

  /** `conv1`, or `b2.0.conv1` inside block `b2.0`: counted per block, as PyTorch names a module's children. */
  layerName(kind: string, explicit: string | undefined): string {
    const prefix = this.blocks.length > 0 ? `${this.blocks[this.blocks.length - 1]}.` : "";
    if (explicit) return prefix + explicit;
    const n = (this.counters.get(prefix + kind) ?? 0) + 1;
    this.counters.set(prefix + kind, n);
    return `${prefix}${kind}${n}`;
  }

  /** Runs `fn` with the layers it makes named inside block `layer` (a name layerName gave). */
  within<T>(layer: string, fn: () => T): T {
    this.blocks.push(layer);
    try {
      return fn();
    } finally {
      this.blocks.pop();
    }
  }

  qualified(name: string): string {
    return this.opts.prefix ? `${this.opts.prefix}/${name}` : name;
  }

  param(name: string, dims: number[], fanIn: number, fill?: number): Value {
    const v = this.opts.params(this.b, name, dims, fanIn, fill === undefined ? undefined : { fill });
    this.paramValues.push(v);
    return v;
  }

  /** Model state without a gradient, starting at `fill`; a training trace records its next value with `update`. */
  buffer(name: string, dims: number[], fill: number): Value {
    const v = this.opts.params(this.b, name, dims, 0, { fill, buffer: true });
    this.bufferValues.push(v);
    return v;
  }

  update(buffer: Value, next: Value): void {
    this.bufferUpdates.set(buffer.name, next);
  }

  /** Emits one layer's node, named `<layer>/<Op>`, its first output named `<layer>`. */
  emit(layer: string, op: string, inputs: (Value | undefined)[], attrs: Record<string, number | number[] | string>, loc: SourceLoc | undefined, outputs = 1): Value[] {
    const q = this.qualified(layer);
    const outputNames = Array.from({ length: outputs }, (_, i) => (i === 0 ? q : `${q}:${i}`));
    return this.b.op(op, inputs, attrs, { name: `${q}/${op}`, outputNames, loc });
  }
}

type Pair = number | readonly [number, number];
const pair = (v: Pair): [number, number] => (typeof v === "number" ? [v, v] : [v[0], v[1]]);

export type { BatchNormOptions } from "./batchnorm-layer";

export interface Conv2dOptions {
  kernel: Pair;
  stride?: Pair;
  padding?: Pair;
  dilation?: Pair;
  /** Declared input channels (PyTorch's in_channels); checked against the incoming shape. */
  inChannels?: number;
  bias?: boolean;
  name?: string;
}

export interface Pool2dOptions {
  stride?: Pair;
  padding?: Pair;
  ceilMode?: boolean;
  name?: string;
}

export interface LinearOptions {
  /** Declared input features (PyTorch's in_features); checked against the incoming shape. */
  inFeatures?: number;
  bias?: boolean;
  name?: string;
}

/**
 * A traced tensor: its graph value plus the trace it belongs to. `S` is its shape as a type
 * (shape-types.ts): each layer method's overload reads it through a `this` parameter and
 * returns the output shape, or turns an argument's type into a ShapeError. `shape` has type
 * `S`, so a `Tensor<A>` is assignable to a `Tensor<B>` only when A is to B (every tensor is a
 * plain `Tensor`). `D` is the element type.
 */
export class Tensor<S extends Shape = Shape, D extends DType = "float32"> {
  constructor(readonly value: Value, readonly tracer: Tracer) {}

  /** The shape, typed as S: `x.shape[1]` of a `Tensor<readonly ["N", 96, 55, 55]>` is `96`. */
  get shape(): S {
    return this.value.shape as unknown as S;
  }

  /** The element type, in the type too: every DSL layer computes in float32. */
  get dtype(): D {
    return this.value.dtype as D;
  }

  private next(v: Value): Tensor {
    return new Tensor(v, this.tracer);
  }

  conv2d<X extends Shape, const O extends number, const Opts extends Conv2dOptions>(
    this: Tensor<X>,
    outChannels: O,
    opts: Check<Conv2dResult<X, O, Opts>> & KnownOptions<"conv2d", Opts, Conv2dOptions> & Opts,
  ): Tensor<OutShape<Conv2dResult<X, O, Opts>>>;
  conv2d(outChannels: number, opts: Conv2dOptions): Tensor {
    const loc = captureSource();
    const t = this.tracer;
    const name = t.layerName("conv", opts.name);
    const [kh, kw] = pair(opts.kernel);
    const inferred = this.shape[1];
    const cin = opts.inChannels ?? inferred;
    if (typeof cin !== "number") throw new ModelError(`${name}: input channels must be known (got ${String(cin)})`);
    const w = t.param(`${name}.weight`, [outChannels, cin, kh, kw], cin * kh * kw);
    const bias = opts.bias === false ? undefined : t.param(`${name}.bias`, [outChannels], cin * kh * kw);
    const [ph, pw] = pair(opts.padding ?? 0);
    const [out] = t.emit(name, "Conv", [this.value, w, bias], {
      kernel_shape: [kh, kw],
      strides: pair(opts.stride ?? 1),
      pads: [ph, pw, ph, pw],
      dilations: pair(opts.dilation ?? 1),
    }, loc);
    return this.next(out);
  }

  maxPool2d<X extends Shape, const K extends Pair, const Opts extends Pool2dOptions = {}>(
    this: Tensor<X>,
    kernel: Check<Pool2dResult<"maxPool2d", X, K, Opts>> & K,
    opts?: KnownOptions<"maxPool2d", Opts, Pool2dOptions> & Opts,
  ): Tensor<OutShape<Pool2dResult<"maxPool2d", X, K, Opts>>>;
  maxPool2d(kernel: Pair, opts: Pool2dOptions = {}): Tensor {
    return this.pool("MaxPool", kernel, opts, captureSource());
  }

  avgPool2d<X extends Shape, const K extends Pair, const Opts extends Pool2dOptions = {}>(
    this: Tensor<X>,
    kernel: Check<Pool2dResult<"avgPool2d", X, K, Opts>> & K,
    opts?: KnownOptions<"avgPool2d", Opts, Pool2dOptions> & Opts,
  ): Tensor<OutShape<Pool2dResult<"avgPool2d", X, K, Opts>>>;
  avgPool2d(kernel: Pair, opts: Pool2dOptions = {}): Tensor {
    return this.pool("AveragePool", kernel, opts, captureSource());
  }

  private pool(op: "MaxPool" | "AveragePool", kernel: Pair, opts: Pool2dOptions, loc: SourceLoc | undefined): Tensor {
    const t = this.tracer;
    const name = t.layerName("pool", opts.name);
    const [ph, pw] = pair(opts.padding ?? 0);
    const attrs: Record<string, number | number[]> = {
      kernel_shape: pair(kernel),
      // PyTorch's default stride is the kernel size.
      strides: pair(opts.stride ?? kernel),
      pads: [ph, pw, ph, pw],
    };
    if (opts.ceilMode) attrs.ceil_mode = 1;
    if (op === "AveragePool" && (ph || pw)) attrs.count_include_pad = 1; // PyTorch's default
    const withIndices = op === "MaxPool" && t.opts.training;
    const [out] = t.emit(name, op, [this.value], attrs, loc, withIndices ? 2 : 1);
    return this.next(out);
  }

  relu<X extends Shape>(this: Tensor<X>, name?: string): Tensor<X>;
  relu(name?: string): Tensor {
    return this.activation("Relu", "relu", name, captureSource());
  }

  sigmoid<X extends Shape>(this: Tensor<X>, name?: string): Tensor<X>;
  sigmoid(name?: string): Tensor {
    return this.activation("Sigmoid", "sigmoid", name, captureSource());
  }

  tanh<X extends Shape>(this: Tensor<X>, name?: string): Tensor<X>;
  tanh(name?: string): Tensor {
    return this.activation("Tanh", "tanh", name, captureSource());
  }

  private activation(op: string, kind: string, explicit: string | undefined, loc: SourceLoc | undefined): Tensor {
    const t = this.tracer;
    const [out] = t.emit(t.layerName(kind, explicit), op, [this.value], {}, loc);
    return this.next(out);
  }

  /** Elementwise x + y with numpy broadcasting; y is a tensor or a number (a scalar constant). */
  add<X extends Shape, const O extends Tensor | number>(
    this: Tensor<X>,
    other: Check<BroadcastResult<"add", X, OperandShape<O>>> & O,
    name?: string,
  ): Tensor<OutShape<BroadcastResult<"add", X, OperandShape<O>>>>;
  add(other: Tensor | number, name?: string): Tensor {
    return this.elementwise("Add", "add", other, name, captureSource());
  }

  /** Elementwise x − y with numpy broadcasting. */
  sub<X extends Shape, const O extends Tensor | number>(
    this: Tensor<X>,
    other: Check<BroadcastResult<"sub", X, OperandShape<O>>> & O,
    name?: string,
  ): Tensor<OutShape<BroadcastResult<"sub", X, OperandShape<O>>>>;
  sub(other: Tensor | number, name?: string): Tensor {
    return this.elementwise("Sub", "sub", other, name, captureSource());
  }

  /** Elementwise x · y with numpy broadcasting. */
  mul<X extends Shape, const O extends Tensor | number>(
    this: Tensor<X>,
    other: Check<BroadcastResult<"mul", X, OperandShape<O>>> & O,
    name?: string,
  ): Tensor<OutShape<BroadcastResult<"mul", X, OperandShape<O>>>>;
  mul(other: Tensor | number, name?: string): Tensor {
    return this.elementwise("Mul", "mul", other, name, captureSource());
  }

  /** Elementwise x / y with numpy broadcasting. */
  div<X extends Shape, const O extends Tensor | number>(
    this: Tensor<X>,
    other: Check<BroadcastResult<"div", X, OperandShape<O>>> & O,
    name?: string,
  ): Tensor<OutShape<BroadcastResult<"div", X, OperandShape<O>>>>;
  div(other: Tensor | number, name?: string): Tensor {
    return this.elementwise("Div", "div", other, name, captureSource());
  }

  private elementwise(op: string, kind: string, other: Tensor | number, explicit: string | undefined, loc: SourceLoc | undefined): Tensor {
    const t = this.tracer;
    const layer = t.layerName(kind, explicit);
    const y = typeof other === "number" ? t.b.scalar(other) : sameTrace(layer, t, other).value;
    const [out] = t.emit(layer, op, [this.value, y], {}, loc);
    return this.next(out);
  }

  /** Matrix product with ONNX MatMul semantics: [...a, M, K]·[...b, K, N] → [...broadcast(a, b), M, N]; rank ≥ 2. */
  matmul<X extends Shape, const O extends Tensor>(
    this: Tensor<X>,
    other: Check<MatMulResult<X, ShapeOf<O>>> & O,
    name?: string,
  ): Tensor<OutShape<MatMulResult<X, ShapeOf<O>>>>;
  matmul(other: Tensor, name?: string): Tensor {
    const loc = captureSource();
    const t = this.tracer;
    const layer = t.layerName("matmul", name);
    const [out] = t.emit(layer, "MatMul", [this.value, sameTrace(layer, t, other).value], {}, loc);
    return this.next(out);
  }

  /** Flattens all but the batch dimension, like `x.view(x.shape[0], -1)`. */
  flatten<X extends Shape>(this: Tensor<X> & Check<FlattenResult<X>>, name?: string): Tensor<OutShape<FlattenResult<X>>>;
  flatten(name?: string): Tensor {
    const loc = captureSource();
    const t = this.tracer;
    const [out] = t.emit(t.layerName("flatten", name), "Flatten", [this.value], { axis: 1 }, loc);
    return this.next(out);
  }

  /** A fully connected layer, y = x·Wᵀ + b with W [out, in] as in PyTorch. */
  linear<X extends Shape, const O extends number, const Opts extends LinearOptions = {}>(
    this: Tensor<X>,
    outFeatures: CheckUnless<LinearResult<X, O, Opts>, LinearMismatch> & O,
    opts?: CheckWhen<LinearResult<X, O, Opts>, LinearMismatch> & KnownOptions<"linear", Opts, LinearOptions> & Opts,
  ): Tensor<OutShape<LinearResult<X, O, Opts>>>;
  linear(outFeatures: number, opts: LinearOptions = {}): Tensor {
    const loc = captureSource();
    const t = this.tracer;
    const name = t.layerName("fc", opts.name);
    const fin = opts.inFeatures ?? this.shape[1];
    if (typeof fin !== "number") throw new ModelError(`${name}: input features must be known (got ${String(fin)})`);
    const w = t.param(`${name}.weight`, [outFeatures, fin], fin);
    const bias = opts.bias === false ? undefined : t.param(`${name}.bias`, [outFeatures], fin);
    const [out] = t.emit(name, "Gemm", [this.value, w, bias], { transB: 1 }, loc);
    return this.next(out);
  }

  /** Dropout with drop probability p: live in training, absent from the inference graph. */
  dropout<X extends Shape, const P extends number>(this: Tensor<X>, p: MessageCheck<DropoutError<P>> & P, name?: string): Tensor<X>;
  dropout(p: number, name?: string): Tensor {
    const loc = captureSource();
    const t = this.tracer;
    const layer = t.layerName("dropout", name);
    if (!(p >= 0 && p < 1)) throw new ModelError(`${layer}: dropout probability must be in [0, 1), got ${p}`);
    if (!t.opts.training || t.opts.dropout === false || p === 0) return this.next(this.value);
    const b = t.b;
    const seed = ((t.opts.dropoutSeed ?? 0) + hashName(layer)) % 2147483647;
    const [out] = t.emit(layer, "Dropout", [this.value, b.scalar(p), b.constant("bool", [], [1])], { seed }, loc, 2);
    return this.next(out);
  }

  /** Batch normalisation over the channels of [N, C, H, W] (PyTorch's nn.BatchNorm2d; batchnorm-layer.ts). */
  batchNorm2d<X extends Shape, const Opts extends BatchNormOptions = {}>(
    this: Tensor<X> & Check<BatchNormResult<"batchNorm2d", X, 4, Opts>>,
    opts?: KnownOptions<"batchNorm2d", Opts, BatchNormOptions> & Opts,
  ): Tensor<OutShape<BatchNormResult<"batchNorm2d", X, 4, Opts>>>;
  batchNorm2d(opts: BatchNormOptions = {}): Tensor {
    return this.next(batchNormLayer(this.tracer, this.value, "batchNorm2d", opts, captureSource()));
  }

  /** Batch normalisation over the features of [N, C] or [N, C, L] (PyTorch's nn.BatchNorm1d). */
  batchNorm1d<X extends Shape, const Opts extends BatchNormOptions = {}>(
    this: Tensor<X> & Check<BatchNormResult<"batchNorm1d", X, 2 | 3, Opts>>,
    opts?: KnownOptions<"batchNorm1d", Opts, BatchNormOptions> & Opts,
  ): Tensor<OutShape<BatchNormResult<"batchNorm1d", X, 2 | 3, Opts>>>;
  batchNorm1d(opts: BatchNormOptions = {}): Tensor {
    return this.next(batchNormLayer(this.tracer, this.value, "batchNorm1d", opts, captureSource()));
  }

  /** The mean of each channel over H and W: [N, C, H, W] → [N, C, 1, 1] (nn.AdaptiveAvgPool2d((1, 1))). */
  globalAvgPool2d<X extends Shape>(this: Tensor<X> & Check<GlobalPoolResult<X>>, name?: string): Tensor<OutShape<GlobalPoolResult<X>>>;
  globalAvgPool2d(name?: string): Tensor {
    const loc = captureSource();
    const t = this.tracer;
    const layer = t.layerName("pool", name);
    if (this.shape.length !== 4) throw new ShapeError("globalAvgPool2d", layer, `input must be [N, C, H, W], got ${formatShape(this.shape)}`, loc);
    return this.next(t.emit(layer, "GlobalAveragePool", [this.value], {}, loc)[0]);
  }

  /**
   * nn.AdaptiveAvgPool2d(size) where the size divides the input's: an average pool with
   * kernel = stride = input / output (a global one for 1 × 1). Sizes that leave windows of
   * different widths are refused with the values.
   */
  adaptiveAvgPool2d<X extends Shape, const S extends Pair>(
    this: Tensor<X>,
    size: Check<AdaptivePoolResult<X, S>> & S,
    name?: string,
  ): Tensor<OutShape<AdaptivePoolResult<X, S>>>;
  adaptiveAvgPool2d(size: Pair, name?: string): Tensor {
    const loc = captureSource();
    const [h, w] = pair(size);
    if (h === 1 && w === 1) return (this as Tensor).globalAvgPool2d(name);
    const layer = this.tracer.layerName("pool", name);
    const fail = (rule: string): never => {
      throw new ShapeError("adaptiveAvgPool2d", layer, rule, loc);
    };
    const window = (d: Dim | undefined, out: number, axis: string): number => {
      if (this.shape.length !== 4 || typeof d !== "number") return fail(`input must be [N, C, H, W] with known H, W, got ${formatShape(this.shape)}`);
      if (d % out !== 0) return fail(`output ${axis} ${out} does not divide the input ${axis} ${d}`);
      return d / out;
    };
    const kernel = [window(this.shape[2], h, "height"), window(this.shape[3], w, "width")];
    return this.next(this.tracer.emit(layer, "AveragePool", [this.value], { kernel_shape: kernel, strides: kernel, pads: [0, 0, 0, 0] }, loc)[0]);
  }

  /**
   * A residual block, y = body(x) + shortcut(x) (x itself without a shortcut), as a ResNet's
   * forward writes it; the block's layers are named inside it (`b2.0.conv1`, as PyTorch names a
   * module's children). The two branches must have one shape: a broadcast here would be a bug.
   */
  residual<X extends Shape, const Y extends Shape, const Z extends Shape = X>(
    this: Tensor<X>,
    body: Check<ResidualResult<Y, Z>> & ((x: Tensor<X>) => Tensor<Y>),
    opts?: ResidualOptions<X, Z>,
  ): Tensor<OutShape<ResidualResult<Y, Z>>>;
  residual(body: (x: Tensor) => Tensor, opts: ResidualOptions<Shape, Shape> = {}): Tensor {
    const loc = captureSource();
    const t = this.tracer;
    const layer = t.layerName("res", opts.name);
    const x = this as Tensor;
    const [y, z] = t.within(layer, () => [body(x), opts.shortcut ? opts.shortcut(x) : x]);
    const same = y.shape.length === z.shape.length && y.shape.every((d, i) => d === z.shape[i]);
    if (!same) throw new ShapeError("residual", layer, `the block gives ${formatShape(y.shape)} but the shortcut gives ${formatShape(z.shape)}`, loc);
    return this.next(t.emit(layer, "Add", [sameTrace(layer, t, y).value, sameTrace(layer, t, z).value], {}, loc)[0]);
  }
}

export interface ResidualOptions<X extends Shape, Z extends Shape> {
  /** The shortcut branch, e.g. a strided 1×1 conv where the block changes the shape. */
  shortcut?: (x: Tensor<X>) => Tensor<Z>;
  name?: string;
}

/**
 * Concatenates tensors along `axis` (negative counts from the end), like `torch.cat`: dims
 * outside the axis must be equal, e.g. `concat([a, b], 1)` joins channels.
 */
export function concat<const Ts extends readonly Tensor[], const A extends number>(
  tensors: Ts,
  axis: Check<ConcatResult<Ts, A>> & A,
  name?: string,
): Tensor<OutShape<ConcatResult<Ts, A>>>;
export function concat(tensors: readonly Tensor[], axis: number, name?: string): Tensor {
  const loc = captureSource();
  if (tensors.length === 0) throw new ModelError("concat: needs at least one tensor");
  const t = tensors[0].tracer;
  const layer = t.layerName("concat", name);
  const [out] = t.emit(layer, "Concat", tensors.map((x) => sameTrace(layer, t, x).value), { axis }, loc);
  return new Tensor(out, t);
}

/** A layer's other operand must come from the same forward (trace). */
function sameTrace(layer: string, t: Tracer, x: Tensor): Tensor {
  if (!(x instanceof Tensor) || x.tracer !== t) throw new ModelError(`${layer}: every operand must be a Tensor of this model's forward`);
  return x;
}

function hashName(name: string): number {
  let h = 0;
  for (let i = 0; i < name.length; i++) h = (Math.imul(h, 31) + name.charCodeAt(i)) >>> 0;
  return h % 1000003;
}
