/**
 * `alexc plot`: the figure's content, not only its existence. The SVG's line marks are read back
 * and each point's height is checked against the run's metrics (one linear y scale per panel,
 * epochs evenly spaced); the PNG is opened by PIL (Debian's python3-pil), its size checked and
 * each run's line colour counted in each panel. Bad runs and paths: one line, the documented
 * exit code, no figure written.
 */
import { spawnSync } from "child_process";
import * as fs from "fs";
import * as path from "path";
import { lines, runAlexc, describeResult } from "./helpers/cli";
import { PYTHON } from "./helpers/python";
import { makeTmpDir } from "./helpers/tmp";
import { clock, tableHeader, tableRow } from "../src/train/epoch-table";

const tmp = makeTmpDir("alexc-plot-");
afterAll(() => tmp.remove());

/** Vega's category10 colours of the first two runs. */
const COLOURS = ["#4c78a8", "#f58518"];
const PANELS = ["train_loss", "train_acc", "test_acc"] as const;

type Epoch = { epoch: number; train_loss: number; train_acc: number; test_acc: number; time_s: number; img_per_s: number };

function writeRun(name: string, epochs: Epoch[], extra = ""): string {
  const dir = tmp.sub(name);
  const text = epochs.flatMap((e) => [JSON.stringify({ type: "step", epoch: e.epoch, step: e.epoch * 10, loss: e.train_loss, lr: 1e-3 }), JSON.stringify({ type: "epoch", ...e })]);
  fs.writeFileSync(path.join(dir, "metrics.jsonl"), text.join("\n") + "\n" + extra);
  return dir;
}

const curve = (n: number, f: (i: number) => [number, number, number]): Epoch[] =>
  Array.from({ length: n }, (_, i) => {
    const [train_loss, train_acc, test_acc] = f(i);
    return { epoch: i + 1, train_loss, train_acc, test_acc, time_s: 60, img_per_s: 100 };
  });
const A = curve(5, (i) => [1.2 / (i + 1), 0.6 + 0.07 * i, 0.62 + 0.05 * i - (i === 3 ? 0.04 : 0)]);
const B = curve(4, (i) => [0.9 - 0.2 * i, 0.7 + 0.05 * i, 0.68 + 0.06 * i]);
const runA = writeRun("seed-protocol", A);
const runB = writeRun("recipe", B);

/** The points of each line mark in the SVG, in document order, with its colour. */
function linePaths(svg: string): { colour: string; points: [number, number][] }[] {
  return [...svg.matchAll(/<path [^>]*aria-roledescription="line mark" d="([^"]+)" stroke="(#[0-9a-f]{6})"/g)].map((m) => ({
    colour: m[2],
    points: m[1].split(/[ML]/).filter(Boolean).map((p) => p.split(",").map(Number) as [number, number]),
  }));
}

describe("alexc plot", () => {
  test("SVG: three panels, one line per run each, every point where its value puts it", () => {
    const out = path.join(tmp.dir, "curves.svg");
    const r = runAlexc(["plot", runA, runB, "-o", out, "--title", "two runs"]);
    if (r.status !== 0) throw new Error(describeResult(r));
    const svg = fs.readFileSync(out, "utf8");
    for (const text of ["train loss", "train accuracy", "test accuracy", "epoch", path.basename(runA), path.basename(runB), "two runs"]) expect(svg).toContain(`>${text}<`);
    const paths = linePaths(svg);
    expect(paths.map((p) => p.colour)).toEqual([COLOURS[0], COLOURS[1], COLOURS[0], COLOURS[1], COLOURS[0], COLOURS[1]]);
    for (const [panel, field] of PANELS.entries()) {
      const [pa, pb] = [paths[2 * panel], paths[2 * panel + 1]];
      expect([pa.points.length, pb.points.length]).toEqual([A.length, B.length]);
      // One y scale per panel: height is a + k·value with k < 0 (up is higher) for both runs.
      const pts = [...pa.points.map((p, i) => [A[i][field], p[1]]), ...pb.points.map((p, i) => [B[i][field], p[1]])];
      const k = (pts[1][1] - pts[0][1]) / (pts[1][0] - pts[0][0]);
      expect(k).toBeLessThan(0);
      for (const [v, y] of pts) expect(Math.abs(y - (pts[0][1] + k * (v - pts[0][0])))).toBeLessThan(0.01);
      // One x scale: epochs evenly spaced, run B's four over the same positions as A's first four.
      const dx = pa.points[1][0] - pa.points[0][0];
      pa.points.forEach((p, i) => expect(Math.abs(p[0] - pa.points[0][0] - i * dx)).toBeLessThan(0.01));
      pb.points.forEach((p, i) => expect(Math.abs(p[0] - pa.points[i][0])).toBeLessThan(0.01));
    }
  });

  test("the epoch axis is labelled with whole epochs, each once: 3, 12 and 25 epochs", () => {
    for (const [n, labels] of [
      [3, "1|2|3"],
      [12, "1|3|5|7|9|11"],
      [25, "1|4|7|10|13|16|19|22|25"],
    ] as const) {
      const run = writeRun(`epochs-${n}`, curve(n, (i) => [1 / (i + 1), 0.5 + 0.01 * i, 0.5 + 0.01 * i]));
      const out = path.join(tmp.dir, `epochs-${n}.svg`);
      const r = runAlexc(["plot", run, "-o", out]);
      if (r.status !== 0) throw new Error(describeResult(r));
      // The tick labels come before each panel's axis title; the y labels follow all three.
      const texts = [...fs.readFileSync(out, "utf8").matchAll(/<text[^>]*>([^<]*)<\/text>/g)].map((m) => m[1]).join("|");
      expect(texts).toContain(`|${labels}|epoch|${labels}|epoch|${labels}|epoch|`);
    }
  });

  test("PNG: opened by PIL, twice the SVG's size, each run's colour drawn in each panel", () => {
    const png = path.join(tmp.dir, "curves.png");
    const r = runAlexc(["plot", runA, runB, "-o", png]);
    if (r.status !== 0) throw new Error(describeResult(r));
    expect(lines(r.stdout)).toEqual([`wrote ${png}: ${runA} (5 epochs), ${runB} (4 epochs)`]);
    const py = [
      "import sys, json",
      "import numpy as np",
      "from PIL import Image",
      "im = Image.open(sys.argv[1]); im.load(); px = np.asarray(im.convert('RGB'), dtype=np.int32)",
      "h, w, _ = px.shape",
      "panel = np.minimum(2, np.arange(w) * 3 // w)",
      "counts = []",
      "for c in sys.argv[2:]:",
      "  rgb = np.array([int(c[i:i+2], 16) for i in (1, 3, 5)])",
      "  near = np.abs(px - rgb).sum(axis=2) < 40",
      "  counts.append([int(near[:, panel == k].sum()) for k in range(3)])",
      "print(json.dumps({'format': im.format, 'size': [w, h], 'counts': counts}))",
    ].join("\n");
    const res = spawnSync(PYTHON, ["-c", py, png, ...COLOURS], { encoding: "utf8" });
    if (res.status !== 0) throw new Error(res.stderr);
    const info = JSON.parse(res.stdout) as { format: string; size: [number, number]; counts: number[][] };
    const svg = runAlexc(["plot", runA, runB, "-o", path.join(tmp.dir, "same.svg")]);
    expect(svg.status).toBe(0);
    const [, w, h] = /<svg[^>]* width="(\d+)" height="(\d+)"/.exec(fs.readFileSync(path.join(tmp.dir, "same.svg"), "utf8"))!;
    expect(info.format).toBe("PNG");
    expect(info.size).toEqual([2 * Number(w), 2 * Number(h)]);
    for (const run of info.counts) for (const inPanel of run) expect(inPanel).toBeGreaterThan(200);
  });

  test("a resumed run's repeated epoch counts once, its last line", () => {
    const again = { ...A[4], test_acc: 0.9 };
    const dir = writeRun("resumed", A, JSON.stringify({ type: "epoch", ...again }) + "\n");
    const out = path.join(tmp.dir, "resumed.svg");
    expect(runAlexc(["plot", dir, "-o", out]).status).toBe(0);
    const paths = linePaths(fs.readFileSync(out, "utf8"));
    expect(paths.map((p) => p.points.length)).toEqual([5, 5, 5]);
  });

  test.each([
    ["a folder without metrics.jsonl", () => [tmp.sub("empty")], 4, /empty[-\d]*: not a training run's folder: cannot read metrics\.jsonl \(ENOENT\)/],
    ["a run with no finished epoch", () => [writeRun("no-epoch", [])], 5, /metrics\.jsonl: no finished epoch yet/],
    ["a corrupt line", () => [writeRun("corrupt", A, "{ not json\n")], 5, /metrics\.jsonl:11: not a JSON line/],
    ["an epoch line without test_acc", () => [writeRun("partial", A, '{"type":"epoch","epoch":6}\n')], 5, /metrics\.jsonl:11: epoch line without a finite "train_loss"/],
  ])("%s: one line, its exit code, no figure", (_what, runs, code, message) => {
    const out = path.join(tmp.dir, `bad-${code}-${Math.random()}.png`);
    const r = runAlexc(["plot", ...runs(), "-o", out]);
    expect([r.status, lines(r.stderr)]).toEqual([code, [expect.stringMatching(message)]]);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("an output that is neither .png nor .svg: exit 64", () => {
    const r = runAlexc(["plot", runA, "-o", path.join(tmp.dir, "curves.jpg")]);
    expect([r.status, lines(r.stderr)]).toEqual([64, [expect.stringMatching(/the figure is written as \.png or \.svg, not '\.jpg'/)]]);
  });
});

describe("the per-epoch table", () => {
  test("a header and aligned rows, fastai's time column", () => {
    const row = tableRow({ epoch: 2, train_loss: 0.41234, train_acc: 0.85, test_acc: 0.8714, time_s: 1570.4, img_per_s: 38.21 }, 3);
    expect(tableHeader()).toBe("epoch    train_loss  train_acc  test_acc     img/s      time");
    expect(row).toBe("2/3          0.4123     0.8500    0.8714      38.2     26:10");
    expect(row.length).toBe(tableHeader().length);
    expect([clock(59.6), clock(3725)]).toEqual(["1:00", "1:02:05"]);
  });
});
