/**
 * Does the CPU's Winograd lowering (src/passes/winograd.ts) help the WebGPU provider? The
 * AlexNet step (WebGPU lowering) and the evaluation forward, with and without Winograd's forward
 * and dX convolutions, median of 10 runs each. On a GPU machine prepared as for checks.sh:
 *
 *   node --require tsx/cjs scripts/gpu/winograd-probe.ts
 *
 * H200, 2026-11-26: no (docs/execution-providers.md); the trainer applies it on the CPU only.
 */
import * as ort from "onnxruntime-node";
import alexnet from "../../models/alexnet";
import type { ModelDef } from "../../src/graph/dsl";
import { adam } from "../../src/train/optim/adam";
import { programFromModel } from "../../src/train/program-dsl";
import { createSession } from "../../src/train/session";
import { next } from "../../src/train/step";
import { sessionBytes } from "../../src/emit/session-bytes";
import { winograd, winogradConvCount } from "../../src/passes/winograd";
import { batchFeeds, maskFeeds, stateFeeds } from "../bench/step-feeds";
const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
async function main() {
  const program = programFromModel(alexnet as ModelDef, adam(), 0);
  for (const batch of [32, 128]) {
    const { graph, masks } = program.loweredStepGraph("webgpu");
    const w = winograd({ batch: 1 })(graph);
    const names = program.mutable.map((t) => t.name);
    const variants = [["direct", sessionBytes(graph)], [`winograd(${winogradConvCount(w)})`, sessionBytes(w)]] as const;
    for (const [label, b] of variants) {
      const session = await createSession(b, { ep: "webgpu", keepOnDevice: names.map(next) });
      const feeds: Record<string, ort.Tensor> = { ...batchFeeds(program, batch, 0), ...maskFeeds(masks, batch, 1), ...stateFeeds(program) };
      const times: number[] = [];
      let loss = 0;
      for (let r = 0; r <= 10; r++) {
        const t0 = performance.now();
        const out = await session.run(feeds);
        if (r === 0) loss = Number(out.loss.data[0]);
        else void out.loss.data[0];
        for (const name of names) {
          if (feeds[name].location === "gpu-buffer") feeds[name].dispose();
          feeds[name] = out[next(name)];
        }
        if (r > 0) times.push(performance.now() - t0);
      }
      await session.release();
      const evalBytes = label === "direct" ? sessionBytes(program.evalGraph()) : sessionBytes(winograd({ batch: 1 })(program.evalGraph()));
      const es = await createSession(evalBytes, { ep: "webgpu" });
      const ef: Record<string, ort.Tensor> = { images: batchFeeds(program, batch, 0).images, labels: batchFeeds(program, batch, 0).labels, ...stateFeeds(program) };
      const eIn = Object.fromEntries(es.inputNames.map((n) => [n, ef[n]]));
      const et: number[] = [];
      for (let r = 0; r <= 10; r++) { const t0 = performance.now(); await es.run(eIn); if (r > 0) et.push(performance.now() - t0); }
      console.log(`batch ${batch} ${label}: step ${median(times).toFixed(1)} ms (first loss ${loss.toFixed(6)}), eval forward ${median(et).toFixed(1)} ms`);
    }
  }
}
main().catch((e) => { console.error(e); process.exit(1); });
