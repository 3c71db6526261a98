/**
 * Behaviour fingerprint of the trainer: trains small runs through the CLI in each backend
 * configuration and prints a SHA-256 of the trained weights (`alexc export-weights`) and of the
 * per-step losses. Two source trees that train identically print identical lines, so a refactor
 * is checked by running this before and after (or with --compare on a saved file).
 *
 *   npx tsx scripts/trained-hashes.ts [--only NAME] [--save FILE] [--compare FILE]
 *
 * The runs: LeNet (2 epochs, full FashionMNIST) and the small CNN with live dropout
 * (test/fixtures/small-cnn.ts, 2 epochs of 8,192 images) with the native binding, without it,
 * without NCHWc, with 2 steps per run (LeNet), from a built .onnx; AlexNet on 256 images at batch 32
 * (Winograd and NCHWc convolutions; and without Winograd, from the model file and from a built
 * .onnx). Each run "… from .onnx" must also print the same line as the run from the model file
 * (without Winograd for AlexNet: a built file keeps the weight gradients it was exported with,
 * where the model file builds Winograd's); the script checks those pairs and exits 1 if one differs.
 */
import { execFileSync } from "child_process";
import { createHash } from "crypto";
import * as fs from "fs";
import * as os from "os";
import * as path from "path";

const root = path.resolve(__dirname, "..");
const cli = path.join(root, "bin/alexc.js");

interface Run {
  readonly name: string;
  readonly model: string;
  readonly args: readonly string[];
  /** Build the model to .onnx first and train from that file. */
  readonly fromOnnx?: boolean;
}

const lenet = ["--epochs", "2"];
const small = ["--epochs", "2", "--train-limit", "8192", "--test-limit", "1000"];
const alex = ["--epochs", "1", "--batch-size", "32", "--train-limit", "256", "--test-limit", "64"];
const RUNS: Run[] = [
  { name: "lenet", model: "models/lenet.ts", args: lenet },
  { name: "lenet --no-native", model: "models/lenet.ts", args: [...lenet, "--no-native"] },
  { name: "lenet --no-nchwc", model: "models/lenet.ts", args: [...lenet, "--no-nchwc"] },
  { name: "lenet --steps-per-run 2", model: "models/lenet.ts", args: [...lenet, "--steps-per-run", "2"] },
  { name: "lenet from .onnx", model: "models/lenet.ts", args: lenet, fromOnnx: true },
  { name: "small_cnn", model: "test/fixtures/small-cnn.ts", args: small },
  { name: "small_cnn --no-native", model: "test/fixtures/small-cnn.ts", args: [...small, "--no-native"] },
  { name: "small_cnn --no-nchwc", model: "test/fixtures/small-cnn.ts", args: [...small, "--no-nchwc"] },
  { name: "small_cnn from .onnx", model: "test/fixtures/small-cnn.ts", args: small, fromOnnx: true },
  { name: "alexnet", model: "models/alexnet.ts", args: alex },
  { name: "alexnet --no-winograd", model: "models/alexnet.ts", args: [...alex, "--no-winograd"] },
  { name: "alexnet --no-native --no-nchwc", model: "models/alexnet.ts", args: [...alex, "--no-native", "--no-nchwc"] },
  { name: "alexnet --no-winograd from .onnx", model: "models/alexnet.ts", args: [...alex, "--no-winograd"], fromOnnx: true },
];

function sha(data: Buffer | string): string {
  return createHash("sha256").update(data).digest("hex").slice(0, 16);
}

function alexc(args: readonly string[]): void {
  execFileSync(process.execPath, [cli, ...args], { cwd: root, stdio: ["ignore", "ignore", "inherit"] });
}

function fingerprint(run: Run, dir: string): { weights: string; losses: string } {
  const out = path.join(dir, "run");
  let model = run.model;
  if (run.fromOnnx) {
    model = path.join(dir, "model.onnx");
    alexc(["build", run.model, "-o", model]);
  }
  alexc(["train", model, ...run.args, "--out", out]);
  const trained = fs.readdirSync(out).find((f) => f.endsWith(".onnx"))!;
  const weights = path.join(dir, "weights.safetensors");
  alexc(["export-weights", path.join(out, trained), "-o", weights]);
  const losses = fs
    .readFileSync(path.join(out, "metrics.jsonl"), "utf8")
    .split("\n")
    .filter((l) => l.includes('"type":"step"'))
    .map((l) => JSON.stringify((JSON.parse(l) as { loss: number }).loss))
    .join("\n");
  return { weights: sha(fs.readFileSync(weights)), losses: sha(losses) };
}

function main(): void {
  const argv = process.argv.slice(2);
  const flag = (name: string) => {
    const i = argv.indexOf(name);
    return i >= 0 ? argv[i + 1] : undefined;
  };
  const only = flag("--only");
  const lines: Record<string, string> = {};
  for (const run of RUNS.filter((r) => !only || r.name.startsWith(only))) {
    const dir = fs.mkdtempSync(path.join(os.tmpdir(), "alexc-hashes-"));
    try {
      const f = fingerprint(run, dir);
      lines[run.name] = `weights ${f.weights} losses ${f.losses}`;
      console.log(`${run.name.padEnd(34)} ${lines[run.name]}`);
    } finally {
      fs.rmSync(dir, { recursive: true, force: true });
    }
  }
  const save = flag("--save");
  if (save) fs.writeFileSync(save, JSON.stringify(lines, null, 1) + "\n");
  const pairs = Object.keys(lines).filter((k) => k.endsWith(" from .onnx") && lines[k.replace(/ from \.onnx$/, "")] !== undefined);
  for (const k of pairs) {
    const same = lines[k] === lines[k.replace(/ from \.onnx$/, "")];
    console.log(`${k}: ${same ? "equals" : "DIFFERS from"} the run from the model file`);
    if (!same) process.exitCode = 1;
  }
  const compare = flag("--compare");
  if (compare) {
    const before = JSON.parse(fs.readFileSync(compare, "utf8")) as Record<string, string>;
    const differ = Object.keys(lines).filter((k) => before[k] !== undefined && before[k] !== lines[k]);
    const missing = Object.keys(lines).filter((k) => before[k] === undefined);
    console.log(`${Object.keys(lines).length - differ.length - missing.length} identical, ${differ.length} differ${differ.length ? `: ${differ.join("; ")}` : ""}${missing.length ? `, ${missing.length} not in ${compare}` : ""}`);
    if (differ.length) process.exitCode = 1;
  }
}

main();
