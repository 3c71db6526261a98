/** `alexc predict <model.onnx> <image.png…> [--top 3] [--json]`: classify images with a built or trained model. */
import type { CommandModule } from "yargs";
import { UsageError } from "../graph/errors";
import { openImageModel, predict } from "../infer/predict";

interface PredictArgs {
  model: string;
  images: string[];
  top: number;
  json: boolean;
  threads?: number;
}

export const predictCommand: CommandModule<object, PredictArgs> = {
  command: "predict <model> <images..>",
  describe: "classify PNG images (grey or colour, any size; converted and resized as in training)",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "a .onnx built, trained or exported by alexc" })
      .positional("images", { type: "string", array: true, demandOption: true, describe: "PNG files" })
      .option("top", { alias: "k", type: "number", default: 3, describe: "how many classes to print per image" })
      .option("json", { type: "boolean", default: false, describe: "print JSON (one array of {file, top: [{index, label, probability}]})" })
      .option("threads", { type: "number", describe: "intra-op threads" })
      .example("$0 predict runs/alexnet/alexnet.onnx shoe.png shirt.png", "top-3 FashionMNIST labels"),
  handler: async (args) => {
    if (!Number.isInteger(args.top) || args.top < 1) throw new UsageError(`--top must be a positive integer, got ${args.top}`);
    const model = await openImageModel(args.model, args.threads);
    try {
      const results = await predict(model, args.images, args.top);
      if (args.json) {
        process.stdout.write(`${JSON.stringify(results, null, 2)}\n`);
        return;
      }
      for (const r of results) {
        process.stdout.write(`${r.file}\n`);
        for (const t of r.top) process.stdout.write(`  ${(100 * t.probability).toFixed(1).padStart(5)}%  ${t.label}\n`);
      }
    } finally {
      await model.session.release();
    }
  },
};
