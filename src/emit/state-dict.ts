/**
 * Parameter names across frameworks. alexc names a parameter `<layer>.<weight|bias>` (conv1.weight);
 * a model file may give its layers' PyTorch module paths (`torchNames: { conv1: "conv.0" }`) so
 * that exported weights carry the state_dict names of the PyTorch class it mirrors, and weights
 * saved from that class load back. The map travels in the .onnx metadata (`alexc.torch_names`),
 * so a built or trained file needs no model source to export its weights.
 *
 * Layout needs no conversion: Conv weights are [out, in, kh, kw] and Linear (Gemm transB=1)
 * weights [out, in] in both.
 */
import { formatShape } from "../graph/types";
import { metadataValue } from "./decode";
import type { onnx } from "./proto";
import { BadDataError } from "../graph/errors";
import type { NamedTensor } from "./safetensors";

export type TorchNames = Readonly<Record<string, string>>;

export const TORCH_NAMES_KEY = "alexc.torch_names";

/** The map from a model's metadata, or {} (alexc names) when it has none. */
export function torchNamesFromMetadata(m: onnx.IModelProto, source: string): TorchNames {
  const raw = metadataValue(m, TORCH_NAMES_KEY);
  if (raw === undefined) return {};
  try {
    const parsed = JSON.parse(raw) as unknown;
    if (typeof parsed === "object" && parsed !== null && Object.values(parsed).every((v) => typeof v === "string")) return parsed as TorchNames;
  } catch {
    // reported below
  }
  throw new BadDataError(`${source}: metadata ${TORCH_NAMES_KEY} is not a JSON object of strings`);
}

/**
 * conv1.weight → conv.0.weight under { conv1: "conv.0" }. A block's entry maps the layers inside
 * it, as a PyTorch module path does its children's: b2.0.conv1.weight → 1.0.conv1.weight under
 * { b2: "1" }; the longest mapped prefix wins. Names of unmapped layers stay.
 */
export function torchName(param: string, names: TorchNames): string {
  if (param in names) return names[param];
  for (let dot = param.lastIndexOf("."); dot > 0; dot = param.lastIndexOf(".", dot - 1)) {
    const prefix = param.slice(0, dot);
    if (prefix in names) return `${names[prefix]}${param.slice(dot)}`;
  }
  return param;
}

export interface ExpectedParam {
  readonly name: string;
  readonly dims: readonly number[];
}

/**
 * Matches a weights file against the model's parameters, by PyTorch name or by alexc name.
 * Every missing, unexpected or wrongly shaped tensor is collected, and all are reported in one
 * error; on success the values come back under alexc's names.
 */
export function matchWeights(
  loaded: readonly NamedTensor[],
  expected: readonly ExpectedParam[],
  names: TorchNames,
  source: string,
): Map<string, Float32Array> {
  const byName = new Map(loaded.map((t) => [t.name, t]));
  const used = new Set<string>();
  const problems: string[] = [];
  const out = new Map<string, Float32Array>();
  for (const p of expected) {
    const tn = torchName(p.name, names);
    const key = byName.has(tn) ? tn : byName.has(p.name) ? p.name : undefined;
    if (key === undefined) {
      problems.push(`missing ${tn}${tn !== p.name ? ` (alexc ${p.name})` : ""} ${formatShape(p.dims)}`);
      continue;
    }
    used.add(key);
    const t = byName.get(key)!;
    if (t.dims.length !== p.dims.length || t.dims.some((d, i) => d !== p.dims[i])) {
      problems.push(`shape of ${key}: file has ${formatShape(t.dims)}, the model expects ${formatShape(p.dims)}`);
      continue;
    }
    out.set(p.name, t.data);
  }
  for (const t of loaded) if (!used.has(t.name) && !counted(t.name, expected, names)) problems.push(`unexpected ${t.name} ${formatShape(t.dims)}`);
  if (problems.length > 0) {
    throw new BadDataError(
      `${source}: the weights do not fit the model (${problems.length} mismatch${problems.length > 1 ? "es" : ""}):\n  ${problems.join("\n  ")}`,
    );
  }
  return out;
}

export const BATCHES_TRACKED = "num_batches_tracked";

/**
 * PyTorch's BatchNorm counter `<bn>.num_batches_tracked`, which alexc does not store: it derives
 * it from the step counter on export (docs/batchnorm.md), and a loaded one is accepted where the
 * model has that BatchNorm, and ignored.
 */
function counted(name: string, expected: readonly ExpectedParam[], names: TorchNames): boolean {
  if (!name.endsWith(`.${BATCHES_TRACKED}`)) return false;
  const layer = name.slice(0, -BATCHES_TRACKED.length);
  return expected.some((p) => p.name.endsWith(".running_mean") && torchName(p.name, names) === `${layer}running_mean`);
}
