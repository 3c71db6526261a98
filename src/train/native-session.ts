/**
 * The CPU training step on alexc's own onnxruntime binding (native/ort-session.cc), with the
 * parameters and optimizer state updated in place.
 *
 * onnxruntime-node hands back every output as a fresh copy — into a preallocated output too —
 * so each step turned every parameter and state tensor into garbage and held a second and third
 * set while it ran (docs/performance.md). This session runs the same
 * onnxruntime library through its C API with every output preallocated: `<name>.next` goes into
 * the very array fed as `<name>` for the tensors passes/in-place.ts could order for it, and every other
 * output into an array of its own. The step's bytes are those the trainer would give
 * onnxruntime-node, plus the ordering gates of passes/in-place.ts; the values are the same bit for bit
 * (test/native-session.test.ts).
 *
 * The binding is built by `npm ci` (scripts/build-native.sh) where a C++ compiler is present;
 * without it, `nativeBinding()` is undefined and callers use onnxruntime-node.
 */
import * as fs from "fs";
import * as ort from "onnxruntime-node";
import * as path from "path";
import { sessionBytes } from "../emit/session-bytes";
import type { Graph } from "../graph/ir";
import { DType, DTYPE_CODE, isStatic, numel } from "../graph/types";
import { orderForInPlace } from "../passes/in-place";
import { NATIVE_ADDON } from "./native-addon";

interface TensorSpec {
  readonly name: string;
  readonly data: ArrayBufferView;
  readonly dims: readonly number[];
  readonly type: number;
}

interface Binding {
  load(libraryPath: string): string;
  createSession(model: Uint8Array, options: { threads: number; memoryPattern: boolean; arena: boolean; profilePrefix?: string }): object;
  releaseSession(session: object): void;
  endProfiling(session: object): string;
  run(session: object, inputs: TensorSpec[], outputs: TensorSpec[]): Promise<void>;
}

let binding: Binding | null | undefined;
let unavailable = "";

/**
 * The binding, loaded once; undefined where it was not built, onnxruntime's library is not where
 * onnxruntime-node keeps it, or loading failed (`nativeUnavailable()` says why).
 */
export function nativeBinding(): Binding | undefined {
  if (binding === undefined) {
    binding = null;
    const lib = path.join(path.dirname(require.resolve("onnxruntime-node")), "..", "bin", "napi-v6", process.platform, process.arch, "libonnxruntime.so.1");
    if (process.platform !== "linux") unavailable = `built for Linux only`;
    else if (!fs.existsSync(NATIVE_ADDON)) unavailable = `not built (${NATIVE_ADDON}; \`bash scripts/build-native.sh\` needs g++)`;
    else if (!fs.existsSync(lib)) unavailable = `onnxruntime's library is not at ${lib}`;
    else {
      try {
        const b = require(NATIVE_ADDON) as Binding;
        b.load(lib);
        binding = b;
      } catch (e) {
        unavailable = `failed to load: ${(e as Error).message.split("\n")[0]}`;
      }
    }
  }
  return binding ?? undefined;
}

/** Why `nativeBinding()` is undefined ("" when it is not). */
export function nativeUnavailable(): string {
  nativeBinding();
  return unavailable;
}

const ARRAY: Record<DType, new (n: number) => ort.Tensor.DataType> = {
  float32: Float32Array,
  float64: Float64Array,
  int64: BigInt64Array,
  int32: Int32Array,
  uint8: Uint8Array,
  bool: Uint8Array,
};

interface OutputType {
  readonly name: string;
  readonly dtype: DType;
  readonly dims: readonly number[];
}

export interface NativeStepOptions {
  readonly threads: number;
  /** onnxruntime's memory pattern (the trainer's step runs without it). */
  readonly memoryPattern?: boolean;
  /** Pairs (input, output) whose output may be written into the input's array: e.g. `w` and `w.next`. */
  readonly inPlace?: (input: string) => string;
  /** The inputs to consider for `inPlace`. */
  readonly mutable?: readonly string[];
  /** onnxruntime profiles every run into `<profilePrefix>_<date>.json` (see `endProfiling`). */
  readonly profilePrefix?: string;
  /** Encode with the symbolic dims unnamed (emit/session-bytes.ts). */
  readonly unnamedDims?: boolean;
}

export class NativeStepSession {
  private running: Promise<unknown> = Promise.resolve();

  private constructor(
    private readonly b: Binding,
    private handle: object | undefined,
    private readonly outputs: readonly OutputType[],
    /** output name → the input whose array it is written into */
    private readonly into: ReadonlyMap<string, string>,
  ) {}

  /** The tensors whose update is written into their own array. */
  get inPlace(): string[] {
    return [...this.into.values()];
  }

  /** A session over `graph`, whose outputs must all have static shapes (the training step's do). */
  static create(graph: Graph, opts: NativeStepOptions): NativeStepSession {
    const b = nativeBinding();
    if (!b) throw new Error(`alexc's onnxruntime binding is ${nativeUnavailable()}`);
    const plan = opts.inPlace && opts.mutable?.length ? orderForInPlace(opts.mutable, opts.inPlace)(graph) : { ...graph, inPlace: [] };
    const outputs = plan.outputs.map((v): OutputType => {
      if (!isStatic(v.shape) || v.shape.some((d) => !Number.isInteger(d) || d < 0)) {
        throw new Error(`output '${v.name}' has no static tensor type: the native step session preallocates every output`);
      }
      return { name: v.name, dtype: v.dtype, dims: v.shape };
    });
    const into = new Map(plan.inPlace.map((name) => [opts.inPlace!(name), name]));
    const handle = b.createSession(sessionBytes(plan, { unnamedDims: opts.unnamedDims }), {
      threads: opts.threads,
      memoryPattern: opts.memoryPattern ?? true,
      arena: true,
      ...(opts.profilePrefix ? { profilePrefix: opts.profilePrefix } : {}),
    });
    return new NativeStepSession(b, handle, outputs, into);
  }

  /**
   * Runs the step. For each in-place pair the output's tensor *is* the input's array, updated;
   * every other output comes in a new array.
   */
  async run(feeds: Readonly<Record<string, ort.Tensor>>): Promise<Record<string, ort.Tensor>> {
    if (!this.handle) throw new Error("the session was released");
    const inputs = Object.entries(feeds).map(([name, t]) => spec(name, t.data, t.dims, t.type as DType));
    const outputs = this.outputs.map((o) => {
      const fed = this.into.has(o.name) ? feeds[this.into.get(o.name)!] : undefined;
      const data = fed && fed.type === o.dtype && fed.data.length === numel(o.dims) ? fed.data : new ARRAY[o.dtype](numel(o.dims));
      return spec(o.name, data, o.dims, o.dtype);
    });
    const done = this.b.run(this.handle, inputs, outputs);
    this.running = done.catch(() => undefined);
    await done;
    return Object.fromEntries(outputs.map((o, i) => [o.name, new ort.Tensor(this.outputs[i].dtype, o.data as ort.Tensor.DataType, o.dims)]));
  }

  /** Ends a profiled session's profile and returns its file (onnxruntime writes it now). */
  endProfiling(): string {
    if (!this.handle) throw new Error("the session was released");
    return this.b.endProfiling(this.handle);
  }

  async release(): Promise<void> {
    await this.running;
    if (this.handle) this.b.releaseSession(this.handle);
    this.handle = undefined;
  }
}

function spec(name: string, data: ort.Tensor.DataType | ArrayBufferView, dims: readonly number[], dtype: DType): TensorSpec {
  const type = DTYPE_CODE[dtype];
  if (type === undefined || typeof data === "string" || Array.isArray(data)) throw new Error(`${name}: ${dtype} tensors are not supported by the native step session`);
  return { name, data: data as ArrayBufferView, dims, type };
}
