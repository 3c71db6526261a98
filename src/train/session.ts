/**
 * onnxruntime-node sessions for alexc's graphs, and the execution-provider choice.
 * CPU is the default; CUDA needs onnxruntime's CUDA libraries (an opt-in install), WebGPU
 * a Vulkan-capable GPU. Asking for a provider that is not there fails at once with one
 * message that says how to get it.
 */
import * as ort from "onnxruntime-node";
import * as os from "os";
import { AlexcError } from "../graph/errors";
import type { Graph, GraphBuilder } from "../graph/ir";
import { sessionBytes } from "../emit/session-bytes";
import { NativeStepSession, nativeBinding, nativeUnavailable } from "./native-session";
import { next } from "./step";

export type ExecutionProvider = "cpu" | "cuda" | "webgpu";

export class ProviderError extends AlexcError {
  override readonly exitCode = 7;
}

export interface SessionOptions {
  readonly ep?: ExecutionProvider;
  readonly threads?: number;
  /** Outputs to leave on the device (WebGPU: fed back as the next run's inputs without a copy). */
  readonly keepOnDevice?: readonly string[];
  /** Write onnxruntime's per-node profile (JSON) to files starting with this path. */
  readonly profilePrefix?: string;
  /**
   * onnxruntime's memory pattern: one block for all intermediates, planned in the first run and
   * allocated in the second (default on). Off for the training step (targets/cpu.ts).
   */
  readonly memoryPattern?: boolean;
}

export function modelBytes(b: GraphBuilder): Uint8Array {
  return sessionBytes(b.build());
}

const INSTALL_HINT: Record<Exclude<ExecutionProvider, "cpu">, string> = {
  cuda:
    "the CUDA execution provider is not installed: run `ONNXRUNTIME_NODE_INSTALL=cuda12 npm rebuild onnxruntime-node --dangerously-allow-all-scripts` " +
    "(package.json's allowScripts denies its install script otherwise) on a machine with CUDA 12 and cuDNN 9 and network access to the CUDA package feed",
  webgpu: "the WebGPU execution provider needs a GPU with a Vulkan driver (libvulkan1); Mesa's CPU Vulkan (lavapipe) is not accepted",
};

export async function createSession(bytes: Uint8Array, opts: SessionOptions = {}): Promise<ort.InferenceSession> {
  const ep = opts.ep ?? "cpu";
  const options: ort.InferenceSession.SessionOptions = {
    executionProviders: [ep],
    graphOptimizationLevel: "all",
    intraOpNumThreads: opts.threads ?? os.availableParallelism(),
    interOpNumThreads: 1,
    enableMemPattern: opts.memoryPattern ?? true,
    ...(opts.profilePrefix ? { enableProfiling: true, profileFilePrefix: opts.profilePrefix } : {}),
  };
  if (opts.keepOnDevice?.length && ep === "webgpu") {
    options.preferredOutputLocation = Object.fromEntries(opts.keepOnDevice.map((n) => [n, "gpu-buffer" as const]));
  }
  // onnxruntime logs a failed provider load itself; alexc reports it in one line instead.
  if (ep !== "cpu") ort.env.logLevel = "fatal";
  try {
    return await ort.InferenceSession.create(bytes, options);
  } catch (e) {
    const msg = (e as Error).message;
    if (ep !== "cpu" && /provider|backend|not (?:found|supported|available)|cannot open shared object|libcu|vulkan|dawn/i.test(msg)) {
      throw new ProviderError(`--ep ${ep}: ${INSTALL_HINT[ep]} (onnxruntime said: ${msg.split("\n")[0]})`);
    }
    throw e;
  }
}

/** What the trainer needs of a step session, whichever binding runs it. */
export interface StepSession {
  run(feeds: Record<string, ort.Tensor>): Promise<Record<string, ort.Tensor>>;
  release(): Promise<void>;
  /** Writes the profile of a session created with `profilePrefix` (into `<prefix>_<date>.json`). */
  endProfiling(): void;
  /** How the step runs, for the log: the binding and the tensors updated in place. */
  readonly runner: string;
}

export interface StepSessionOptions extends SessionOptions {
  /** The parameters and optimizer state: each `<name>.next` may be written into `<name>`'s array. */
  readonly mutable: readonly string[];
  /** alexc's own binding (native-session.ts) where it is built and the provider is the CPU's (default true). */
  readonly native?: boolean;
  /**
   * Encode the step with its symbolic dimensions unnamed, so that onnxruntime plans no buffer reuse
   * across same-shaped values and frees each at its last use (emit/session-bytes.ts).
   */
  readonly unnamedDims?: boolean;
}

/**
 * The training step's session over a model the target's passes already rewrote (targets/). On the
 * CPU, alexc's own binding where it is built: no output copies, updates in place
 * (native-session.ts). Otherwise onnxruntime-node.
 */
export async function createStepSession(graph: Graph, opts: StepSessionOptions): Promise<StepSession> {
  const cpu = (opts.ep ?? "cpu") === "cpu";
  const native = cpu && opts.native !== false;
  if (native && nativeBinding()) {
    const s = NativeStepSession.create(graph, {
      unnamedDims: opts.unnamedDims,
      threads: opts.threads ?? os.availableParallelism(),
      memoryPattern: opts.memoryPattern ?? true,
      inPlace: next,
      mutable: opts.mutable,
      profilePrefix: opts.profilePrefix,
    });
    return Object.assign(s, { runner: `alexc's onnxruntime binding, ${s.inPlace.length} of ${opts.mutable.length} tensors updated in place` });
  }
  const s = await createSession(sessionBytes(graph, { unnamedDims: opts.unnamedDims }), opts);
  const why = native ? nativeUnavailable() : "";
  return {
    run: (feeds) => s.run(feeds) as Promise<Record<string, ort.Tensor>>,
    release: () => s.release(),
    endProfiling: () => s.endProfiling(),
    runner: why ? `onnxruntime-node (alexc's binding ${why})` : "onnxruntime-node",
  };
}
