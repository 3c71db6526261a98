/**
 * Data-parallel AlexNet on one machine, measured in one run: the step time of one process with 2
 * threads against 2 ranks (mpirun -np 2) with one thread each on the same global batch, where
 * each rank's step time goes (gradient, waiting for the other rank, all-reduce, update), and
 * MPI_Allreduce alone on a buffer of AlexNet's gradient size.
 *
 *   npx tsx scripts/bench-dist.ts [--batch 16] [--steps 3]
 *
 * Each side runs in its own processes, one after the other (scripts/bench/dist-worker.ts), with
 * one untimed step first; the times are medians over the timed steps.
 */
import { spawnSync } from "child_process";
import * as path from "path";

function arg(name: string, fallback: string): string {
  const i = process.argv.indexOf(`--${name}`);
  return i >= 0 ? process.argv[i + 1] : fallback;
}

function run(cmd: string, args: string[]): Record<string, unknown> {
  const env = { ...process.env, OMPI_ALLOW_RUN_AS_ROOT: "1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM: "1" };
  const r = spawnSync(cmd, args, { encoding: "utf8", maxBuffer: 1 << 24, env });
  if (r.status !== 0) throw new Error(`${cmd} ${args.join(" ")} failed:\n${r.stderr}`);
  return JSON.parse(r.stdout.trim().split("\n").pop()!) as Record<string, unknown>;
}

const median = (xs: number[]) => [...xs].sort((a, b) => a - b)[Math.floor(xs.length / 2)];

function main(): void {
  const batch = arg("batch", "16");
  const steps = arg("steps", "3");
  const worker = path.join(__dirname, "bench/dist-worker.ts");
  const node = [process.execPath, "--require", "tsx/cjs", worker];
  const single = run(node[0], [...node.slice(1), "single", batch, steps, "2"]);
  const dist = run("mpirun", ["-np", "2", "--oversubscribe", ...node, "dist", batch, steps]);
  const t = dist.timing as { gradient: number; wait: number; allreduce: number; update: number; steps: number };
  const per = (ms: number) => ms / t.steps;
  const [one, two] = [median(single.ms as number[]), median(dist.ms as number[])];
  const alone = median(dist.allreduceMs as number[]);
  const bytes = (dist.floats as number) * 4;
  console.log(`AlexNet, Adam, global batch ${batch}, median of ${steps} steps after one untimed`);
  console.log(`  1 process × 2 threads   step ${one.toFixed(0)} ms (${((Number(batch) * 1000) / one).toFixed(1)} img/s)`);
  console.log(`  2 ranks × 1 thread      step ${two.toFixed(0)} ms (${((Number(batch) * 1000) / two).toFixed(1)} img/s): ${(two / one).toFixed(2)}× the one-process step`);
  console.log(
    `    rank 0, mean per step: gradient ${per(t.gradient).toFixed(0)} ms, waiting for rank 1 ${per(t.wait).toFixed(0)} ms, all-reduce ${per(t.allreduce).toFixed(0)} ms, update ${per(t.update).toFixed(0)} ms`,
  );
  const total = t.gradient + t.wait + t.allreduce + t.update;
  console.log(`    all-reduce share of the step: ${((100 * t.allreduce) / total).toFixed(1)} %`);
  console.log(`  MPI_Allreduce alone, ${(bytes / 1e6).toFixed(1)} MB, 2 ranks: ${alone.toFixed(0)} ms (${((bytes * 8) / (alone / 1000) / 1e9).toFixed(1)} Gbit/s of buffer)`);
}

main();
