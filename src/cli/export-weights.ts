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
import { torchName, torchNamesFromMetadata } from "../emit/state-dict";
import { floatValues } from "../emit/tensor-data";
import { IoError } from "../graph/errors";

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
    const metadata: Record<string, string> = { format: "pt" };
    const modelName = metadataValue(m, "alexc.model");
    if (modelName) metadata["alexc.model"] = modelName;
    writeFileAtomic(args.output, encodeSafetensors(tensors, metadata));
    const count = tensors.reduce((a, t) => a + t.data.length, 0);
    process.stdout.write(`wrote ${args.output} (${tensors.length} tensors, ${count} parameters${Object.keys(names).length ? ", PyTorch names" : ""})\n`);
  },
};
