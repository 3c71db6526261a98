/**
 * One side of scripts/bench-dist.ts: `single B STEPS THREADS` times the one-process step (the
 * trainer's StepRunner, the CPU target with THREADS threads); `dist B STEPS`, run by every rank
 * under mpirun, times a rank's data-parallel step (DistStepRunner, one thread a rank) and then
 * MPI_Allreduce alone on a buffer of the model's gradient size. Synthetic images and labels,
 * AlexNet with Adam; one untimed step first. Rank 0 (or the single process) prints one JSON line.
 */
import * as path from "path";
import type { ModelDef } from "../../src/graph/dsl";
import { Rng } from "../../src/graph/random";
import { openMpi } from "../../src/train/dist/communicator";
import { DistStepRunner } from "../../src/train/dist/dist-runner";
import { maskRng } from "../../src/train/dropout";
import { adam } from "../../src/train/optim/adam";
import { programFromModel } from "../../src/train/program-dsl";
import type { Runner, StepBatch } from "../../src/train/step-runner";
import { cpuTarget } from "../../src/train/targets/cpu";

function batchOf(size: number, step: number, pixels: number): StepBatch {
  const rng = Rng.derive(0, "bench", step);
  const images = Uint8Array.from({ length: size * pixels }, () => rng.nextInt(256));
  const labels = BigInt64Array.from({ length: size }, () => BigInt(rng.nextInt(10)));
  return { images, labels, steps: 1, size, lr: 1e-3, step, masks: maskRng(0, 0, step) };
}

async function timeSteps(runner: Runner, tensors: Map<string, Float32Array>, batch: number, steps: number, pixels: number): Promise<number[]> {
  await runner.beginEpoch(0);
  const ms: number[] = [];
  for (let s = 0; s <= steps; s++) {
    const input = batchOf(batch, s, pixels);
    const t = performance.now();
    await runner.run(tensors, input);
    if (s > 0) ms.push(performance.now() - t);
    // The untimed step's parts do not count either.
    else if (runner instanceof DistStepRunner) Object.assign(runner.timing, { gradient: 0, wait: 0, allreduce: 0, update: 0, steps: 0 });
  }
  return ms;
}

async function main(): Promise<void> {
  const [mode, batchText, stepsText, threadsText] = process.argv.slice(2);
  const [batch, steps] = [Number(batchText), Number(stepsText)];
  const def = (require(path.resolve(__dirname, "../../models/alexnet.ts")) as { default: ModelDef }).default;
  const program = programFromModel(def, adam(), 0);
  const pixels = program.rawShape.reduce((a, b) => a * b, 1);
  const tensors = program.initial().tensors;
  if (mode === "single") {
    const target = await cpuTarget({ threads: Number(threadsText) });
    const runner = await target.openStep(program, { batch });
    console.log(JSON.stringify({ ms: await timeSteps(runner, tensors, batch, steps, pixels) }));
    return runner.release();
  }
  const comm = openMpi();
  const runner = await DistStepRunner.open(await cpuTarget({ threads: 1 }), program, { batch, comm });
  const ms = await timeSteps(runner, tensors, batch, steps, pixels);
  const buffer = new Float32Array(runner.size);
  const alone: number[] = [];
  for (let r = 0; r < 4; r++) {
    comm.allreduce(Float64Array.of(0), "sum");
    const t = performance.now();
    comm.allreduce(buffer, "sum");
    alone.push(performance.now() - t);
  }
  if (comm.rank === 0) console.log(JSON.stringify({ ms, timing: runner.timing, allreduceMs: alone, floats: runner.size, ranks: comm.size }));
  await runner.release();
  comm.finalize();
}

main().catch((e) => {
  console.error(e);
  process.exit(1);
});
