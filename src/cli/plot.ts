/** `alexc plot runs/a [runs/b …] -o curves.png|svg`: learning curves of training runs, overlaid. */
import * as path from "path";
import type { CommandModule } from "yargs";
import { UsageError } from "../graph/errors";
import { writeFileAtomic } from "../emit/atomic-write";
import { curvesSpec } from "../report/curves";
import type * as Render from "../report/render";
import { readRunMetrics } from "../report/run-metrics";

interface PlotArgs {
  runs: string[];
  out: string;
  title?: string;
}

export const plotCommand: CommandModule<object, PlotArgs> = {
  command: "plot <runs..>",
  describe: "draw train loss, train accuracy and test accuracy per epoch of training runs (their --out folders) to a PNG or SVG",
  builder: (y) =>
    y
      .positional("runs", { type: "string", array: true, demandOption: true, describe: "output folders of `alexc train` (each with metrics.jsonl)" })
      .option("out", { alias: "o", type: "string", demandOption: true, describe: "the figure: .png or .svg" })
      .option("title", { type: "string", describe: "a title above the panels" })
      .example("$0 plot runs/alexnet runs/alexnet-plus -o curves.png", "the seed protocol and the recipe, overlaid"),
  handler: async (args) => {
    const ext = path.extname(args.out).toLowerCase();
    if (ext !== ".png" && ext !== ".svg") throw new UsageError(`-o ${args.out}: the figure is written as .png or .svg, not '${ext || "(no extension)"}'`);
    const runs = args.runs.map(readRunMetrics);
    // vega, vega-lite and resvg are the slowest modules the CLI would load: required here, so that only `alexc plot` pays for them.
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const { renderSvg, svgToPng } = require("../report/render") as typeof Render;
    const svg = await renderSvg(curvesSpec(runs, args.title));
    writeFileAtomic(args.out, ext === ".svg" ? svg : svgToPng(svg));
    console.log(`wrote ${args.out}: ${runs.map((r) => `${r.dir} (${r.epochs.length} epochs)`).join(", ")}`);
  },
};
