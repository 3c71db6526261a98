/** `alexc build <model.ts> -o <file.onnx> [--seed N]` */
import type { CommandModule } from "yargs";
import { compileModel } from "../emit/compile";
import { encodeModel } from "../emit/encode";
import { writeFileAtomic } from "../emit/atomic-write";
import { loadModelFile } from "./load-model";

interface BuildArgs {
  model: string;
  output: string;
  seed: number;
}

export const buildCommand: CommandModule<object, BuildArgs> = {
  command: "build <model>",
  describe: "compile a model file to ONNX (inference graph, parameters, metadata)",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "model file (.ts) exporting model(...)" })
      .option("output", { alias: "o", type: "string", demandOption: true, describe: "the .onnx file to write" })
      .option("seed", { type: "number", default: 0, describe: "seed for parameter initialisation" })
      .example("$0 build models/alexnet.ts -o alexnet.onnx", "compile AlexNet"),
  handler: (args) => {
    const t0 = Date.now();
    const def = loadModelFile(args.model);
    const proto = compileModel(def, { seed: args.seed });
    const bytes = encodeModel(proto);
    writeFileAtomic(args.output, bytes);
    const mb = (bytes.byteLength / 1e6).toFixed(1);
    process.stdout.write(`wrote ${args.output} (${def.spec.name}, ${mb} MB) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  },
};
