/**
 * The learning-curve figure of one or more runs as a Vega-Lite specification: three panels side
 * by side (train loss, train accuracy, test accuracy per epoch, as d2l's figures show them), one
 * coloured line per run with a legend, each panel on its own y scale.
 */
import * as path from "path";
import type { TopLevelSpec } from "vega-lite";
import type { RunMetrics } from "./run-metrics";

/** The panels, in order: the metric each plots and its title. */
export const PANELS = [
  { field: "train_loss", title: "train loss" },
  { field: "train_acc", title: "train accuracy" },
  { field: "test_acc", title: "test accuracy" },
] as const;

/** Names for the runs' legend: folder names, or the paths as given where two folder names are the same. */
export function runLabels(runs: readonly RunMetrics[]): string[] {
  const names = runs.map((r) => path.basename(path.resolve(r.dir)));
  const unique = new Set(names).size === names.length;
  return unique ? names : runs.map((r) => r.dir);
}

/**
 * Whole epochs, at most 10 of them: the axis' own tick choice (even with tickMinStep, which a
 * faceted chart does not honour) puts ticks at 1.5, 2.5 … and labels them 2, 3 ….
 */
export function epochTicks(runs: readonly RunMetrics[]): number[] {
  const last = Math.max(1, ...runs.flatMap((r) => r.epochs.map((e) => e.epoch)));
  const step = Math.ceil(last / 10);
  const ticks: number[] = [];
  for (let e = 1; e <= last; e += step) ticks.push(e);
  return ticks;
}

export function curvesSpec(runs: readonly RunMetrics[], title?: string): TopLevelSpec {
  const labels = runLabels(runs);
  const values = runs.flatMap((r, i) =>
    r.epochs.flatMap((e) => PANELS.map((p) => ({ run: labels[i], epoch: e.epoch, panel: p.title, value: e[p.field] }))),
  );
  return {
    $schema: "https://vega.github.io/schema/vega-lite/v5.json",
    ...(title ? { title } : {}),
    background: "white",
    data: { values },
    facet: { column: { field: "panel", type: "nominal", sort: PANELS.map((p) => p.title), title: null, header: { labelFontSize: 13 } } },
    spec: {
      width: 260,
      height: 200,
      mark: { type: "line", point: true },
      encoding: {
        x: { field: "epoch", type: "quantitative", title: "epoch", axis: { values: epochTicks(runs), format: "d" } },
        y: { field: "value", type: "quantitative", title: null, scale: { zero: false } },
        color: { field: "run", type: "nominal", title: "run", sort: labels },
      },
    },
    resolve: { scale: { y: "independent" } },
  };
}
