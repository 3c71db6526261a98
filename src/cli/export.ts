/**
 * `alexc export <model.onnx> -o model.onnx [--dtype float16]`: the inference model alone
 * (training_info dropped) of a built or trained file, in float32 or float16, for other runtimes.
 */
import type { CommandModule } from "yargs";
import { writeFileAtomic } from "../emit/atomic-write";
import { readModelFile } from "../emit/decode";
import { encodeModel } from "../emit/encode";
import { toFloat16 } from "../emit/to-float16";

interface ExportArgs {
  model: string;
  output: string;
  dtype: "float32" | "float16";
}

export const exportCommand: CommandModule<object, ExportArgs> = {
  command: "export <model>",
  describe: "write the inference model of a built or trained .onnx (no training_info), optionally in float16",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "a .onnx built or trained by alexc" })
      .option("output", { alias: "o", type: "string", demandOption: true, describe: "the .onnx file to write" })
      .option("dtype", { choices: ["float32", "float16"] as const, default: "float32" as const, describe: "element type of weights and activations (inputs and outputs stay float32)" })
      .example("$0 export runs/alexnet/alexnet.onnx -o alexnet-fp16.onnx --dtype float16", "half-size inference model"),
  handler: (args) => {
    const m = readModelFile(args.model);
    const inference = args.dtype === "float16" ? toFloat16(m, args.model) : { ...m, trainingInfo: [] };
    const bytes = encodeModel(inference);
    writeFileAtomic(args.output, bytes);
    process.stdout.write(`wrote ${args.output} (${args.dtype} inference model, ${(bytes.byteLength / 1e6).toFixed(1)} MB)\n`);
  },
};
