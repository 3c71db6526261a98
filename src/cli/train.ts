/** `alexc train <model.ts>`: the seed protocol (or the model's own defaults) on FashionMNIST. */
import * as os from "os";
import type { CommandModule } from "yargs";
import { IoError, UsageError } from "../graph/errors";
import { loadFashionMnist, resolveDataDir } from "../train/data/fashion-mnist";
import type { ExecutionProvider } from "../train/session";
import { checkDist, distRun } from "./dist";
import { targetFromFlags } from "../train/targets/from-flags";
import { train } from "../train/trainer";
import { loadModelFile } from "./load-model";
import { readModelFile } from "../emit/decode";
import { makeOptimizer } from "../train/optim/make";
import { OPTIMIZERS, OptimizerName } from "../train/optim/optimizer";
import { programFromModel } from "../train/program-dsl";
import { programFromOnnx } from "../train/program-onnx";
import { checkLabelSmoothing } from "../train/loss";
import { describeAugment, resolveAugment } from "../train/data/augment";
import type { AugmentSpec } from "../graph/dsl";
import { describeSchedule, resolveSchedule, SCHEDULE_KINDS, type ScheduleKind, type ScheduleSpec } from "../train/schedule";

interface TrainArgs {
  model: string;
  data?: string;
  epochs?: number;
  "batch-size"?: number;
  lr?: number;
  optimizer?: OptimizerName;
  momentum?: number;
  "weight-decay"?: number;
  "label-smoothing"?: number;
  schedule?: ScheduleKind;
  "step-size"?: number;
  gamma?: number;
  "warmup-steps"?: number;
  "warmup-start-factor"?: number;
  "min-lr"?: number;
  "total-steps"?: number;
  augment: boolean;
  "crop-padding"?: number;
  flip?: boolean;
  brightness?: number;
  contrast?: number;
  erasing?: number;
  seed: number;
  ep: ExecutionProvider;
  threads?: number;
  "train-limit"?: number;
  "test-limit"?: number;
  out: string;
  resume: boolean;
  "init-from"?: string;
  "steps-per-run": number;
  lowering?: "default" | "webgpu";
  nchwc: boolean;
  winograd: boolean;
  native: boolean;
  dist?: "mpi";
}

export const trainCommand: CommandModule<object, TrainArgs> = {
  command: "train <model>",
  describe: "train a model on FashionMNIST with onnxruntime (checkpoints, metrics, trained .onnx in --out)",
  builder: (y) =>
    y
      .positional("model", { type: "string", demandOption: true, describe: "model file (.ts), or a built .onnx with training_info" })
      .option("data", { type: "string", describe: "folder with the FashionMNIST IDX files (default: Debian's dataset-fashion-mnist, fetched if missing)" })
      .option("epochs", { type: "number", describe: "epochs (model default; AlexNet 3)" })
      .option("batch-size", { type: "number", describe: "batch size (model default; AlexNet 128)" })
      .option("lr", { type: "number", describe: "learning rate (model default; AlexNet 1e-3)" })
      .option("optimizer", { choices: OPTIMIZERS, describe: "optimizer (model default; adam); adamw: decoupled weight decay, 0.01 unless --weight-decay" })
      .option("momentum", { type: "number", describe: "SGD momentum (0.9)" })
      .option("weight-decay", { type: "number", describe: "weight decay (0; adamw: decoupled, 0.01)" })
      .option("label-smoothing", { type: "number", describe: "cross-entropy label smoothing ε in [0, 1) (model default; 0), PyTorch's semantics" })
      .option("schedule", { choices: SCHEDULE_KINDS, describe: "learning-rate schedule, stepped per optimizer step (model default; constant); PyTorch's StepLR, LinearLR+CosineAnnealingLR, OneCycleLR" })
      .option("step-size", { type: "number", describe: "--schedule step: optimizer steps between decays (required)" })
      .option("gamma", { type: "number", describe: "--schedule step: decay factor (0.1)" })
      .option("warmup-steps", { type: "number", describe: "--schedule cosine: linear warm-up steps (0)" })
      .option("warmup-start-factor", { type: "number", describe: "--schedule cosine: the warm-up starts at lr × this (1/3)" })
      .option("min-lr", { type: "number", describe: "--schedule cosine: the final learning rate (0)" })
      .option("total-steps", { type: "number", describe: "--schedule cosine|onecycle: steps the schedule spans (default: epochs × batches per epoch)" })
      .option("augment", { type: "boolean", default: true, describe: "--no-augment: train on the images as they are, whatever the model's defaults say" })
      .option("crop-padding", { type: "number", describe: "augment: RandomCrop with this zero padding, in raw pixels (model default; 0)" })
      .option("flip", { type: "boolean", describe: "augment: RandomHorizontalFlip(0.5) (model default; off)" })
      .option("brightness", { type: "number", describe: "augment: ColorJitter brightness x, factors in [1 − x, 1 + x] (model default; 0)" })
      .option("contrast", { type: "number", describe: "augment: ColorJitter contrast x, factors in [1 − x, 1 + x] (model default; 0)" })
      .option("erasing", { type: "number", describe: "augment: RandomErasing probability (model default; 0)" })
      .option("seed", { type: "number", default: 0, describe: "seed: initialisation, shuffling, dropout" })
      .option("ep", { choices: ["cpu", "cuda", "webgpu"] as const, default: "cpu" as ExecutionProvider, describe: "execution provider" })
      .option("threads", { type: "number", describe: `intra-op threads (default: ${os.availableParallelism()})` })
      .option("train-limit", { type: "number", describe: "use only the first N training images" })
      .option("test-limit", { type: "number", describe: "use only the first N test images" })
      .option("out", { type: "string", default: "runs/latest", describe: "output folder: checkpoint, metrics.jsonl, trained model" })
      .option("steps-per-run", { type: "number", default: 1, describe: "optimizer steps per onnxruntime run (an ONNX Loop; keeps state on a GPU device)" })
      .option("lowering", { choices: ["default", "webgpu"] as const, describe: "step graph formulation (webgpu: no Dropout/OneHot/Loop/MaxPool-indices ops; default with --ep webgpu)" })
      .option("nchwc", { type: "boolean", default: true, describe: "CPU: convolutions on onnxruntime's blocked NCHWc kernels (--no-nchwc: its im2col ones)" })
      .option("winograd", {
        type: "boolean",
        default: true,
        describe: "CPU: 3×3 and 5×5 convolutions (≥ 64 channels) by Winograd's algorithm, F(m×m, r×r) (--no-winograd: direct, as onnxruntime computes them)",
      })
      .option("native", {
        type: "boolean",
        default: true,
        describe: "CPU: run the step on alexc's own onnxruntime binding, updates in place (--no-native: onnxruntime-node's, which copies every output)",
      })
      .option("dist", { choices: ["mpi"] as const, describe: "data-parallel: run under `mpirun -np K`, each rank trains its shard of every batch, gradients all-reduced (docs/distributed.md)" })
      .option("resume", { type: "boolean", default: false, describe: "continue from the checkpoint in --out" })
      .option("init-from", { type: "string", describe: "start from these weights (.safetensors, PyTorch state_dict or alexc names)" })
      .example("$0 train models/lenet.ts", "LeNet with its defaults (≈0.85+ test accuracy in 3 epochs)")
      .example("mpirun -np 2 --oversubscribe $0 train models/lenet.ts --dist mpi", "LeNet data-parallel on two processes")
      .example("$0 train models/alexnet.ts --epochs 1 --batch-size 32 --train-limit 256 --test-limit 128 --out /tmp/run", "a quick AlexNet run"),
  handler: async (args) => {
    const fromOnnx = args.model.endsWith(".onnx");
    const def = fromOnnx ? undefined : loadModelFile(args.model);
    const onnxProgram = fromOnnx ? programFromOnnx(readModelFile(args.model), args.model) : undefined;
    const d = def?.spec.train ?? onnxProgram?.defaults ?? {};
    const { comm, log, threads } = distRun(args.dist, args.threads);
    const dir = resolveDataDir(args.data, (m) => log.line(m));
    const data = loadFashionMnist(dir, { trainLimit: args["train-limit"], testLimit: args["test-limit"] });
    const positive = (name: string, v: number | undefined) => {
      if (v !== undefined && !(v > 0)) throw new IoError(`--${name} must be positive, got ${v}`);
      return v;
    };
    const batchSize = positive("batch-size", args["batch-size"]) ?? d.batchSize ?? 128;
    const epochs = positive("epochs", args.epochs) ?? d.epochs ?? 3;
    const lr = positive("lr", args.lr) ?? d.lr ?? 1e-3;
    const schedule = resolveSchedule(scheduleSpec(args, d.schedule), lr, epochs * Math.ceil(data.train.count / batchSize));
    const augment = args.augment ? resolveAugment(augmentSpec(args, d.augment), data.train.rows, data.train.cols, augmentSettingName(args)) : undefined;
    const cfg = {
      epochs,
      batchSize,
      lr,
      ...(schedule.kind === "constant" ? {} : { schedule }),
      ...(augment ? { augment } : {}),
      optimizer: (args.optimizer ?? onnxProgram?.optimizer ?? d.optimizer ?? "adam") as OptimizerName,
      momentum: args.momentum,
      weightDecay: args["weight-decay"],
      seed: args.seed,
      out: args.out,
      resume: args.resume,
      initFrom: args["init-from"],
      // Evaluation at the training batch size stays within the memory the step already used.
      evalBatchSize: batchSize,
      stepsPerRun: Math.max(1, Math.floor(positive("steps-per-run", args["steps-per-run"]) ?? 1)),
    };
    const labelSmoothing =
      args["label-smoothing"] !== undefined
        ? checkLabelSmoothing(args["label-smoothing"], "--label-smoothing")
        : (onnxProgram?.labelSmoothing ?? checkLabelSmoothing(d.labelSmoothing ?? 0, "the model's labelSmoothing"));
    if (onnxProgram && labelSmoothing !== onnxProgram.labelSmoothing) {
      throw new IoError(`${args.model}: its training_info uses label smoothing ${onnxProgram.labelSmoothing}; rebuild it with \`alexc build --label-smoothing ${labelSmoothing}\``);
    }
    if (onnxProgram && cfg.optimizer !== onnxProgram.optimizer) {
      throw new IoError(`${args.model}: its training_info runs ${onnxProgram.optimizer}; rebuild it with \`alexc build --optimizer ${cfg.optimizer}\``);
    }
    const program =
      onnxProgram ??
      programFromModel(def!, makeOptimizer(cfg.optimizer, d, { momentum: cfg.momentum, weightDecay: cfg.weightDecay }), cfg.seed, labelSmoothing);
    log.line(
      `training ${program.name}: ${data.train.count} train / ${data.test.count} test images, ${cfg.epochs} epochs, batch ${cfg.batchSize}, ` +
        `${cfg.optimizer} lr ${cfg.lr}${cfg.schedule ? ` ${describeSchedule(cfg.schedule)}` : ""}${augment ? `, augment ${describeAugment(augment)}` : ""}, seed ${cfg.seed}, ep ${args.ep}, out ${cfg.out}`,
    );
    const target = await targetFromFlags({ ep: args.ep, threads, lowering: args.lowering, nchwc: args.nchwc, winograd: args.winograd, native: args.native });
    if (comm) log.line(checkDist(comm, program, target, { ...cfg, threads }));
    await train(program, data, { ...cfg, target, dist: comm }, log);
    comm?.finalize();
  },
};

/** Which flags set which schedule's settings. */
const SCHEDULE_FLAGS: Record<string, { key: keyof ScheduleSpec; kinds: readonly ScheduleKind[] }> = {
  "step-size": { key: "stepSize", kinds: ["step"] },
  gamma: { key: "gamma", kinds: ["step"] },
  "warmup-steps": { key: "warmupSteps", kinds: ["cosine"] },
  "warmup-start-factor": { key: "warmupStartFactor", kinds: ["cosine"] },
  "min-lr": { key: "minLr", kinds: ["cosine"] },
  "total-steps": { key: "totalSteps", kinds: ["cosine", "onecycle"] },
};

/**
 * The schedule of the flags over the model's default: the default's settings count only where
 * the flags keep its kind. A setting flag for another schedule is an error (exit 64).
 */
function scheduleSpec(args: TrainArgs, defaults: ScheduleSpec | undefined): ScheduleSpec {
  const kind = args.schedule ?? defaults?.kind ?? "constant";
  const spec: Record<string, unknown> = { ...(defaults?.kind === kind ? defaults : {}), kind };
  for (const [flag, { key, kinds }] of Object.entries(SCHEDULE_FLAGS)) {
    const v = (args as unknown as Record<string, number | undefined>)[flag];
    if (v === undefined) continue;
    if (!kinds.includes(kind)) throw new UsageError(`--${flag} applies to --schedule ${kinds.join("|")}, not ${kind}`);
    if (!Number.isFinite(v)) throw new UsageError(`--${flag} must be a number, got ${v}`);
    spec[key] = v;
  }
  return spec as unknown as ScheduleSpec;
}

/** Which flag sets which augmentation setting. */
const AUGMENT_FLAGS: Record<keyof AugmentSpec, keyof TrainArgs> = {
  cropPadding: "crop-padding",
  flip: "flip",
  brightness: "brightness",
  contrast: "contrast",
  erasing: "erasing",
};

/** The model's augmentation with each setting a flag gives replaced. */
function augmentSpec(args: TrainArgs, defaults: AugmentSpec | undefined): AugmentSpec {
  const spec: Record<string, unknown> = { ...defaults };
  for (const [key, flag] of Object.entries(AUGMENT_FLAGS)) if (args[flag] !== undefined) spec[key] = args[flag];
  return spec as AugmentSpec;
}

/** Names a setting in an error as the user gave it: its flag, or the model's default. */
function augmentSettingName(args: TrainArgs): (key: keyof AugmentSpec) => string {
  return (key) => (args[AUGMENT_FLAGS[key]] !== undefined ? `--${AUGMENT_FLAGS[key]}` : `the model's train.augment.${key}`);
}
