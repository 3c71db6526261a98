/**
 * The `alexc` command line. User errors (AlexcError) print one line and exit with their code;
 * anything else is a bug and prints its stack.
 *
 * Exit codes: 0 ok · 1 internal error · 2 bad model file · 3 shape or gradient error ·
 * 4 bad file or path (I/O) · 5 bad data or checkpoint · 6 training diverged · 64 usage error.
 */
import yargs from "yargs";
import { AlexcError } from "../graph/errors";
import { buildCommand } from "./build";
import { inspectCommand } from "./inspect";
import { trainCommand } from "./train";
import { exportStepCommand } from "./export-step";
import { exportWeightsCommand } from "./export-weights";
import { exportCommand } from "./export";
import { plotCommand } from "./plot";
import { predictCommand } from "./predict";

export const EXIT_USAGE = 64;

export async function main(argv: string[]): Promise<void> {
  let verbose = argv.includes("--verbose");
  try {
    await yargs(argv)
      .scriptName("alexc")
      .usage("$0 <command> [options]\n\nA neural-network compiler: typed TypeScript models → ONNX (inference + training).")
      .command(buildCommand)
      .command(inspectCommand)
      .command(trainCommand)
      .command(predictCommand)
      .command(plotCommand)
      .command(exportStepCommand)
      .command(exportCommand)
      .command(exportWeightsCommand)
      .option("verbose", { type: "boolean", describe: "show stack traces for errors", global: true })
      .demandCommand(1, "name a command: build, inspect, train, predict, plot, export, export-step, export-weights")
      .strict()
      .help()
      .alias("h", "help")
      .version()
      .epilogue("Exit codes: 0 ok, 1 internal error, 2 bad model file, 3 shape/gradient error, 4 I/O error, 5 bad data or checkpoint, 6 diverged, 64 usage")
      .fail((msg, err) => {
        if (err) throw err;
        process.stderr.write(`alexc: ${msg}\nRun 'alexc --help' for usage.\n`);
        process.exit(EXIT_USAGE);
      })
      .parseAsync();
  } catch (e) {
    verbose = verbose || process.env.ALEXC_VERBOSE === "1";
    if (e instanceof AlexcError) {
      process.stderr.write(`alexc: ${e.message}\n`);
      if (verbose && e.stack) process.stderr.write(`${e.stack}\n`);
      process.exit(e.exitCode);
    }
    process.stderr.write(`alexc: internal error: ${(e as Error)?.stack ?? String(e)}\n`);
    process.exit(1);
  }
}
