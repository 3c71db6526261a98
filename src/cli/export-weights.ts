/**
 * `alexc export-weights <model.onnx> -o weights.safetensors`: a model's parameters as
 * safetensors, under the PyTorch state_dict names its model file declares (`torchNames`), so
 * that `load_state_dict` of the PyTorch class accepts them.
 */
import type { CommandModule } from "yargs";
import { writeFileAtomic } from "../emit/atomic-write";
import { metadataValue, readModelFile } from "../emit/decode";
import { onnx } from "../emit/proto";
import { encodeSafetensors, NamedTensor } from "../emit/safetensors";
import { BATCHES_TRACKED, torchName, torchNamesFromMetadata, type TorchNames } from "../emit/state-dict";
import { floatValues } from "../emit/tensor-data";
import { IoError } from "../graph/errors";
import { STEP_COUNTER } from "../train/step";

interface ExportWeightsArgs {
  model: string;
  output: string;
  names: "torch" | "alexc";
}

const FLOATS = new Set<number>([onnx.TensorProto.DataType.FLOAT, onnx.TensorProto.DataType.FLOAT16]);

export const exportWeightsCommand: CommandModule<object, ExportWeightsArgs> = {
  command: "export-weights <model>",
  describe: "write a built or trained model's parameters as safetensors (PyTorch state_dict names)",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "a .onnx built or trained by alexc (or any ONNX model)" })
      .option("output", { alias: "o", type: "string", demandOption: true, describe: "the .safetensors file to write" })
      .option("names", { choices: ["torch", "alexc"] as const, default: "torch" as const, describe: "torch: the state_dict names the model file declares; alexc: conv1.weight…" })
      .example("$0 export-weights runs/alexnet/alexnet.onnx -o alexnet.safetensors", "for AlexNet().load_state_dict(...)"),
  handler: (args) => {
    const m = readModelFile(args.model);
    const names = args.names === "torch" ? torchNamesFromMetadata(m, args.model) : {};
    const tensors: NamedTensor[] = (m.graph?.initializer ?? [])
      .filter((t) => FLOATS.has(t.dataType ?? 0))
      .map((t) => ({ name: torchName(t.name ?? "", names), dims: (t.dims ?? []).map(Number), data: floatValues(t, args.model) }));
    if (tensors.length === 0) throw new IoError(`${args.model}: has no float parameters to export`);
    tensors.push(...batchesTracked(m, names));
    const metadata: Record<string, string> = { format: "pt" };
    const modelName = metadataValue(m, "alexc.model");
    if (modelName) metadata["alexc.model"] = modelName;
    writeFileAtomic(args.output, encodeSafetensors(tensors, metadata));
    const count = tensors.filter((t) => !t.dtype && !/\.running_(mean|var)$/.test(t.name)).reduce((a, t) => a + t.data.length, 0);
    process.stdout.write(`wrote ${args.output} (${tensors.length} tensors, ${count} parameters${Object.keys(names).length ? ", PyTorch names" : ""})\n`);
  },
};

/**
 * PyTorch's `num_batches_tracked` (int64) beside each BatchNorm's running statistics. alexc keeps
 * no counter per BatchNorm: every training step updates each of them once, so it is the step
 * counter of the file's training_info (0 for an untrained or inference-only file).
 */
function batchesTracked(m: onnx.IModelProto, names: TorchNames): NamedTensor[] {
  const step = m.trainingInfo?.[0]?.algorithm?.initializer?.find((t) => t.name === STEP_COUNTER);
  const count = step ? Number(step.int64Data?.[0] ?? (step.rawData?.length === 8 ? Buffer.from(step.rawData).readBigInt64LE(0) : 0)) : 0;
  return (m.graph?.initializer ?? [])
    .filter((t) => t.name?.endsWith(".running_mean"))
    .map((t) => ({ name: torchName(t.name!.replace(/running_mean$/, BATCHES_TRACKED), names), dims: [], data: Float32Array.of(count), dtype: "I64" as const }));
}
