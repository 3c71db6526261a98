/**
 * One measurement in its own process (so peak RSS is its own): alexc's AlexNet forward as
 * exported ("forward": inference session, constant weights, float input; onnxruntime computes its
 * convolutions directly), the same with its 3×3 and 5×5 convolutions by Winograd's algorithm
 * ("forward-winograd", passes/winograd.ts; onnxruntime folds the filter transforms of constant
 * weights once), the forward with the weights as graph inputs ("forward-inputs": how the training
 * step sees them, so onnxruntime cannot pre-pack them or switch convolutions to its NCHWc layout
 * by itself), or a training step (Adam, preprocessing in the graph, dropout masks as inputs) run
 * as `alexc train` runs it. The last two go through the CPU target's passes (src/train/targets/cpu.ts:
 * Winograd unless `--no-winograd`, then NCHWc unless `--no-nchwc`); the step runs on alexc's own
 * binding (updates in place) unless `--no-native` is given; `--warmup W` untimed runs come first
 * (default 1).
 * Prints one JSON line: {"ms": [per-rep times], "maxRssMB": n}.
 */
import * as ort from "onnxruntime-node";
import * as path from "path";
import type { ModelDef } from "../../src/graph/dsl";
import { uniformInit } from "../../src/graph/init";
import { numel } from "../../src/graph/types";
import { GraphBuilder } from "../../src/graph/ir";
import { trace } from "../../src/graph/trace";
import { compileModel } from "../../src/emit/compile";
import { encodeModel } from "../../src/emit/encode";
import { importModel } from "../../src/emit/import";
import { sessionBytes } from "../../src/emit/session-bytes";
import { decodeModel } from "../../src/emit/decode";
import { winograd } from "../../src/passes/winograd";
import { runPasses } from "../../src/passes/run";
import { adam } from "../../src/train/optim/adam";
import { programFromModel } from "../../src/train/program-dsl";
import { createSession } from "../../src/train/session";
import { cpuTarget } from "../../src/train/targets/cpu";
import { STEP_COUNTER } from "../../src/train/step";
import { batchFeeds, carryOver, maskFeeds, stateFeeds } from "./step-feeds";

async function main(): Promise<void> {
  const [modelFile, mode, batchText, repsText] = process.argv.slice(2);
  const target = await cpuTarget({ nchwc: !process.argv.includes("--no-nchwc"), winograd: !process.argv.includes("--no-winograd"), native: !process.argv.includes("--no-native") });
  const at = process.argv.indexOf("--warmup");
  const warmup = at >= 0 ? Number(process.argv[at + 1]) : 1;
  const def = (require(path.resolve(modelFile)) as { default: ModelDef }).default;
  const batch = Number(batchText);
  const reps = Number(repsText);
  const times: number[] = [];
  if (mode === "forward" || mode === "forward-winograd" || mode === "forward-inputs") {
    const [, c, h, w] = def.spec.input as number[];
    const x = new Float32Array(batch * c * h * w).map((_, i) => ((i * 7919) % 1000) / 1000);
    const feeds: Record<string, ort.Tensor> = { input: new ort.Tensor("float32", x, [batch, c, h, w]) };
    let bytes = encodeModel(compileModel(def, { seed: 0 }));
    if (mode === "forward-winograd") bytes = sessionBytes(winograd({ batch })(importModel(decodeModel(bytes, "forward")).graph));
    if (mode === "forward-inputs") {
      const b = new GraphBuilder(def.spec.name);
      const input = b.input("input", "float32", def.spec.input);
      const traced = trace(def, b, input, {
        params: (bb, name, dims, fanIn) => {
          feeds[name] = new ort.Tensor("float32", uniformInit(0, name, numel(dims), fanIn), dims);
          return bb.input(name, "float32", dims);
        },
        training: false,
      });
      b.output(traced.output, "logits");
      bytes = sessionBytes(runPasses(b.build(), target.evalPasses(batch)));
    }
    const session = await createSession(bytes);
    for (let r = 0; r < warmup; r++) await session.run(feeds);
    for (let r = 0; r < reps; r++) {
      const t0 = performance.now();
      await session.run(feeds);
      times.push(performance.now() - t0);
    }
  } else {
    const program = programFromModel(def, adam(), 0);
    // As the trainer runs it: the CPU target's step (no memory pattern, convolutions lowered for
    // the CPU, alexc's own binding with the updates in place unless `--no-native`).
    const step = target.step(program, { batch });
    const session = await step.open(0);
    process.stderr.write(`${step.describe(session)}\n`);
    const feeds = { ...batchFeeds(program, batch, 0, 1e-4), ...maskFeeds(step.masks, batch, 0), ...stateFeeds(program) };
    const mutable = [...program.mutable.map((t) => t.name), STEP_COUNTER];
    for (let r = 0; r < warmup + reps; r++) {
      const t0 = performance.now();
      carryOver(feeds, await session.run(feeds), mutable);
      if (r >= warmup) times.push(performance.now() - t0);
    }
  }
  process.stdout.write(JSON.stringify({ ms: times, maxRssMB: process.resourceUsage().maxRSS / 1024 }) + "\n");
}

main().catch((e) => {
  process.stderr.write(`${(e as Error).stack}\n`);
  process.exit(1);
});
