/** `alexc export-step <model.ts> -o step.onnx`: the training step as a standalone ONNX model (docs/training-graph.md). */
import type { CommandModule } from "yargs";
import { writeFileAtomic } from "../emit/atomic-write";
import { encodeModel, graphProto, modelProto } from "../emit/encode";
import { nodeDoc } from "../emit/compile";
import { makeOptimizer } from "../train/optim/make";
import { OPTIMIZERS, OptimizerName } from "../train/optim/optimizer";
import { buildStepGraph } from "../train/step";
import { loadModelFile } from "./load-model";

interface ExportStepArgs {
  model: string;
  output: string;
  optimizer?: OptimizerName;
  momentum?: number;
  "weight-decay"?: number;
  "dropout-seed": number;
}

export const exportStepCommand: CommandModule<object, ExportStepArgs> = {
  command: "export-step <model>",
  describe: "write one training step (forward, loss, backward, update) as a standalone ONNX model",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true })
      .option("output", { alias: "o", type: "string", demandOption: true, describe: "the .onnx file to write" })
      .option("optimizer", { choices: OPTIMIZERS, describe: "optimizer (model default)" })
      .option("momentum", { type: "number", describe: "SGD momentum (0.9)" })
      .option("weight-decay", { type: "number", describe: "weight decay (0; adamw: decoupled, 0.01)" })
      .option("dropout-seed", { type: "number", default: 0, describe: "seed attribute of the Dropout nodes" }),
  handler: (args) => {
    const def = loadModelFile(args.model);
    const optimizer = makeOptimizer(args.optimizer ?? def.spec.train?.optimizer ?? "adam", def.spec.train, {
      momentum: args.momentum,
      weightDecay: args["weight-decay"],
    });
    const sg = buildStepGraph(def, { optimizer, mode: "inputs", dropoutSeed: args["dropout-seed"] });
    const doc = `one ${optimizer.name} step of ${def.spec.name} (${JSON.stringify(optimizer.config)}); contract: docs/training-graph.md`;
    writeFileAtomic(args.output, encodeModel(modelProto(graphProto(sg.b.build(doc), { nodeDoc }), { doc })));
    process.stdout.write(`wrote ${args.output} (${sg.params.length} parameters, ${sg.state.length} state tensors)\n`);
  },
};
