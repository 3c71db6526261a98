/** `alexc inspect <file.onnx>`: a layer table for any ONNX model. */
import * as path from "path";
import type { CommandModule } from "yargs";
import { readModelFile } from "../emit/decode";
import { formatSummary, summarize } from "../emit/summary";

export const inspectCommand: CommandModule<object, { file: string }> = {
  command: "inspect <file>",
  describe: "print a layer table (name, op, output shape, parameters) of an ONNX file",
  builder: (y) => y.positional("file", { type: "string", demandOption: true, describe: "an .onnx file" }),
  handler: (args) => {
    const m = readModelFile(args.file);
    process.stdout.write(formatSummary(summarize(m), m.graph?.name || path.basename(args.file)) + "\n");
  },
};
