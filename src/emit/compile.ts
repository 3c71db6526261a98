/**
 * A model definition → the ONNX ModelProto that `alexc build` writes: the inference graph
 * (initialisers = freshly initialised parameters), metadata, and — when asked — the
 * training algorithm in ModelProto.training_info.
 */
import * as path from "path";
import type { ModelDef } from "../graph/dsl";
import type { Node } from "../graph/ir";
import { buildInferenceGraph } from "../graph/trace";
import { graphProto, modelProto } from "./encode";
import type { onnx } from "./proto";
import { TORCH_NAMES_KEY } from "./state-dict";

export interface CompileOptions {
  readonly seed: number;
  /** Trained parameter values (default: fresh initialisation from the seed). */
  readonly weights?: ReadonlyMap<string, Float32Array>;
  /** Builds the TrainingInfoProto for the model (supplied by src/train, which depends on this module). */
  readonly trainingInfo?: (def: ModelDef, seed: number) => onnx.ITrainingInfoProto;
  /** Further metadata entries (src/train's: the optimizer, where its state names don't tell it). */
  readonly metadata?: Readonly<Record<string, string>>;
}

/** Where a node came from, relative to the model file's folder so the bytes don't depend on cwd. */
export function nodeDoc(n: Node): string | undefined {
  return n.loc ? `${path.basename(n.loc.file)}:${n.loc.line}:${n.loc.column}` : undefined;
}

export function modelMetadata(def: ModelDef, seed: number): Record<string, string> {
  const spec = def.spec;
  const meta: Record<string, string> = { "alexc.model": spec.name, "alexc.seed": String(seed) };
  if (spec.classes) meta["alexc.classes"] = JSON.stringify(spec.classes);
  if (spec.preprocess) {
    const p = spec.preprocess;
    meta["alexc.preprocess"] = JSON.stringify({
      raw: { dtype: "uint8", shape: ["N", ...p.raw] },
      scale: "x / 255",
      resize: p.resize ? { size: [p.resize, p.resize], mode: "bilinear", coordinates: "half_pixel" } : null,
      note: "the inference input is the float image after these steps (torchvision Resize + ToTensor)",
    });
  }
  if (spec.train) meta["alexc.train_defaults"] = JSON.stringify(spec.train);
  if (spec.torchNames) meta[TORCH_NAMES_KEY] = JSON.stringify(spec.torchNames);
  return meta;
}

export function compileModel(def: ModelDef, opts: CompileOptions): onnx.IModelProto {
  const { b } = buildInferenceGraph(def, opts.seed, opts.weights);
  const graph = graphProto(b.build(def.spec.doc ?? `${def.spec.name}, built by alexc`), { nodeDoc });
  return modelProto(graph, {
    doc: def.spec.doc,
    metadata: { ...modelMetadata(def, opts.seed), ...opts.metadata },
    trainingInfo: opts.trainingInfo ? [opts.trainingInfo(def, opts.seed)] : undefined,
  });
}
