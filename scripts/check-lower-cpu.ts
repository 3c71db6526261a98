/**
 * The CPU lowering (src/passes/nchwc.ts) on this machine's processor: its NCHWc block size,
 * how many convolutions it moves, agreement of one training step and of evaluation with the
 * standard graph, and both steps' times, alternating in one process.
 *
 *   npx tsx scripts/check-lower-cpu.ts [--model models/alexnet.ts] [--batch 32] [--reps 3] [--threads N]
 *
 * test/lower-cpu.test.ts checks the same agreement on a small model with this machine's block
 * size; this script is for another processor (AVX-512 gives blocks of 16, AVX2 of 8) and for
 * AlexNet itself.
 */
import * as ort from "onnxruntime-node";
import * as os from "os";
import * as path from "path";
import type { ModelDef } from "../src/graph/dsl";
import { sessionBytes } from "../src/emit/session-bytes";
import { nchwc, nchwcConvCount } from "../src/passes/nchwc";
import { nchwcBlockSize } from "../src/train/nchwc-probe";
import { adam } from "../src/train/optim/adam";
import { programFromModel } from "../src/train/program-dsl";
import { createSession } from "../src/train/session";
import { next, STEP_COUNTER } from "../src/train/step";
import { worstRelative } from "./bench/agreement";
import { batchFeeds, maskFeeds, stateFeeds } from "./bench/step-feeds";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

async function main(): Promise<void> {
  const batch = Number(arg("batch", "32"));
  const reps = Number(arg("reps", "3"));
  const threads = Number(arg("threads", String(os.availableParallelism())));
  const def = (require(path.resolve(arg("model", path.join(__dirname, "../models/alexnet.ts")))) as { default: ModelDef }).default;
  const blockSize = await nchwcBlockSize();
  const program = programFromModel(def, adam(), 0);
  const { graph, masks } = program.loweredStepGraph("dropout");
  const lowered = nchwc(blockSize)(graph);
  console.log(`${def.spec.name}: NCHWc block size ${blockSize}, ${nchwcConvCount(lowered)} convolutions of the step rewritten, ${threads} threads`);

  const feeds: Record<string, ort.Tensor> = { ...batchFeeds(program, batch), ...maskFeeds(masks, batch, 0), ...stateFeeds(program) };

  const opts = { threads, memoryPattern: false };
  const standard = await createSession(sessionBytes(graph), opts);
  const candidate = await createSession(sessionBytes(lowered), opts);
  const ref = await standard.run(feeds);
  const got = await candidate.run(feeds);
  const moments = program.mutable.filter((t) => t.name.endsWith(".adam_m")).map((t) => t.name);
  const gradWorst = Math.max(...moments.map((n) => worstRelative(ref[next(n)].data as Float32Array, got[next(n)].data as Float32Array)));
  console.log(`one step, batch ${batch}: loss ${Number(ref.loss.data[0]).toFixed(6)} vs ${Number(got.loss.data[0]).toFixed(6)}, correct ${ref.correct.data[0]} vs ${got.correct.data[0]}`);
  console.log(`  gradients (Adam's first moment), worst per tensor relative to its largest: ${gradWorst.toExponential(2)}`);

  const evalGraph = program.evalGraph();
  const evalStd = await createSession(sessionBytes(evalGraph), opts);
  const evalLow = await createSession(sessionBytes(nchwc(blockSize)(evalGraph)), opts);
  const evalFeeds = Object.fromEntries(evalStd.inputNames.map((n) => [n, feeds[n]]));
  const logitsWorst = worstRelative((await evalStd.run(evalFeeds)).logits.data as Float32Array, (await evalLow.run(evalFeeds)).logits.data as Float32Array);
  console.log(`  evaluation logits, worst relative to the largest: ${logitsWorst.toExponential(2)}`);

  // Speed: the two sessions alternate, each step feeding its own updated tensors back.
  const mutable = [...program.mutable.map((t) => t.name), STEP_COUNTER];
  const state = { standard: { ...feeds }, lowered: { ...feeds } };
  const times: Record<keyof typeof state, number[]> = { standard: [], lowered: [] };
  for (let r = 0; r < reps; r++) {
    for (const kind of ["standard", "lowered"] as const) {
      const t0 = performance.now();
      const out = await (kind === "standard" ? standard : candidate).run(state[kind]);
      for (const name of mutable) state[kind][name] = out[next(name)];
      times[kind].push(performance.now() - t0);
    }
  }
  const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];
  const fmt = (xs: number[]) => xs.map((t) => t.toFixed(0)).join(", ");
  console.log(`step times, batch ${batch}, alternating: standard ${fmt(times.standard)} ms; lowered ${fmt(times.lowered)} ms`);
  console.log(`  median standard / lowered = ${(median(times.standard) / median(times.lowered)).toFixed(2)}`);
}

main().catch((e) => {
  console.error((e as Error).stack ?? String(e));
  process.exit(1);
});
