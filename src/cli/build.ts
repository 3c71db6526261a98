/** `alexc build <model.ts> -o <file.onnx> [--seed N]` */
import type { CommandModule } from "yargs";
import { compileModel } from "../emit/compile";
import { encodeModel } from "../emit/encode";
import { writeFileAtomic } from "../emit/atomic-write";
import { loadModelFile } from "./load-model";
import { trainingInfo } from "../train/training-info";
import { makeOptimizer, optimizerMetadata } from "../train/optim/make";
import { OPTIMIZERS } from "../train/optim/optimizer";
import { checkLabelSmoothing, lossMetadata } from "../train/loss";
import { UsageError } from "../graph/errors";
import { parameterShapes } from "../graph/trace";
import { readSafetensorsFile } from "../emit/safetensors";
import { matchWeights } from "../emit/state-dict";
import { toFloat16 } from "../emit/to-float16";

interface BuildArgs {
  model: string;
  output: string;
  seed: number;
  training: boolean;
  optimizer: string;
  "label-smoothing"?: number;
  "init-from"?: string;
  dtype: "float32" | "float16";
}

export const buildCommand: CommandModule<object, BuildArgs> = {
  command: "build <model>",
  describe: "compile a model file to ONNX (inference graph, parameters, metadata)",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "model file (.ts) exporting model(...)" })
      .option("output", { alias: "o", type: "string", demandOption: true, describe: "the .onnx file to write" })
      .option("seed", { type: "number", default: 0, describe: "seed for parameter initialisation" })
      .option("training", { type: "boolean", default: true, describe: "include the training algorithm (training_info); --no-training omits it" })
      .option("optimizer", { choices: OPTIMIZERS, default: "adam", describe: "optimizer of the training algorithm (state lives in training_info)" })
      .option("label-smoothing", { type: "number", describe: "cross-entropy label smoothing ε in [0, 1) of the training algorithm (model default; 0)" })
      .option("dtype", { choices: ["float32", "float16"] as const, default: "float32" as const, describe: "float16: weights and activations in half precision, inference only (implies --no-training)" })
      .option("init-from", { type: "string", describe: "parameter values from a .safetensors file (PyTorch state_dict or alexc names) instead of --seed's initialisation" })
      .example("$0 build models/alexnet.ts -o alexnet.onnx", "compile AlexNet"),
  handler: (args) => {
    const t0 = Date.now();
    // yargs turns a non-numeric --seed into NaN; seeds are unsigned 32-bit integers.
    if (!Number.isInteger(args.seed) || args.seed < 0 || args.seed > 0xffffffff) {
      throw new UsageError(`--seed must be an integer in [0, 4294967295], got ${Number.isNaN(args.seed) ? "a value that is not a number" : String(args.seed)}`);
    }
    const def = loadModelFile(args.model);
    const optimizer = makeOptimizer(args.optimizer, def.spec.train);
    const initFrom = args["init-from"];
    const weights = initFrom
      ? matchWeights(readSafetensorsFile(initFrom).tensors, parameterShapes(def), def.spec.torchNames ?? {}, initFrom)
      : undefined;
    const withTraining = args.training && args.dtype === "float32";
    const labelSmoothing = checkLabelSmoothing(
      args["label-smoothing"] ?? def.spec.train?.labelSmoothing ?? 0,
      args["label-smoothing"] !== undefined ? "--label-smoothing" : "the model's labelSmoothing",
    );
    const proto = compileModel(def, {
      seed: args.seed,
      weights,
      trainingInfo: withTraining ? (d, seed) => trainingInfo(d, optimizer, seed, undefined, labelSmoothing) : undefined,
      metadata: withTraining ? { ...optimizerMetadata(optimizer), ...lossMetadata(labelSmoothing) } : undefined,
    });
    const bytes = encodeModel(args.dtype === "float16" ? toFloat16(proto, args.model) : proto);
    writeFileAtomic(args.output, bytes);
    const mb = (bytes.byteLength / 1e6).toFixed(1);
    process.stdout.write(`wrote ${args.output} (${def.spec.name}, ${mb} MB) in ${((Date.now() - t0) / 1000).toFixed(1)} s\n`);
  },
};
