/**
 * The `alexc` command line as a user runs it (node bin/alexc.js in a child process): build and
 * inspect of the seed models, determinism, and every failure path — exit code, one clear
 * stderr line naming the file (and line:column where there is one), no stack trace unless
 * --verbose, and no output or temp file left behind (an existing output stays untouched).
 */
import { createHash } from "crypto";
import * as fs from "fs";
import * as path from "path";
import { describeResult, lines, REPO_ROOT, runAlexc } from "./helpers/cli";
import { listDir, makeTmpDir } from "./helpers/tmp";
import { onnxCheck, python } from "./helpers/python";
import { Rng } from "../src/graph/random";

const ALEXNET = "models/alexnet.ts";
const LENET = "models/lenet.ts";
const FIXTURES = path.join("test", "fixtures");

let tmp: ReturnType<typeof makeTmpDir>;
beforeAll(() => {
  tmp = makeTmpDir("cli");
});
afterAll(() => tmp.remove());

/** sha256 of a file, read in chunks (AlexNet with training_info is ~233 MB). */
function sha256(file: string): string {
  const h = createHash("sha256");
  const fd = fs.openSync(file, "r");
  try {
    const buf = Buffer.allocUnsafe(1 << 24);
    for (;;) {
      const n = fs.readSync(fd, buf, 0, buf.length, null);
      if (n === 0) break;
      h.update(buf.subarray(0, n));
    }
  } finally {
    fs.closeSync(fd);
  }
  return h.digest("hex");
}

/** A failed command: the exit code, exactly one "alexc: ..." line on stderr, no stack, nothing on stdout. */
function expectOneLineFailure(r: ReturnType<typeof runAlexc>, exitCode: number): string {
  expect({ status: r.status, signal: r.signal }).toEqual({ status: exitCode, signal: null });
  const errLines = lines(r.stderr);
  if (errLines.length !== 1) throw new Error(`expected one stderr line, got ${errLines.length}:\n${describeResult(r)}`);
  expect(errLines[0]).toMatch(/^alexc: /);
  expect(r.stderr).not.toMatch(/^\s+at /m);
  expect(r.stderr).not.toMatch(/internal error/);
  expect(r.stdout).toBe("");
  return errLines[0];
}

function expectSuccess(r: ReturnType<typeof runAlexc>): void {
  if (r.status !== 0) throw new Error(`expected exit 0:\n${describeResult(r)}`);
}

// ---------------------------------------------------------------------------------------------

describe("alexc build: the seed models", () => {
  let dir: string;
  let first: string;
  beforeAll(() => {
    dir = tmp.sub("alexnet");
    first = path.join(dir, "alexnet.onnx");
  });

  test("AlexNet builds in under 10 s, exit 0, one summary line on stdout", () => {
    const r = runAlexc(["build", ALEXNET, "-o", first]);
    expectSuccess(r);
    expect(r.ms).toBeLessThan(10_000);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(new RegExp(`^wrote ${escapeRe(first)} \\(alexnet, \\d+\\.\\d MB\\) in \\d+\\.\\d s\\n$`));
    const size = fs.statSync(first).size;
    expect(r.stdout).toContain(`${(size / 1e6).toFixed(1)} MB`);
    // 58,299,082 float32 parameters are 233 MB; the optimizer state is created at training time
    // (TrainingInfoProto.initialization), so the training algorithm adds well under 1%.
    expect(size).toBeGreaterThan(58_299_082 * 4);
    expect(size).toBeLessThan(58_299_082 * 4 * 1.01);
    expect(listDir(dir)).toEqual(["alexnet.onnx"]); // no temp file left next to it
  });

  test("alexc inspect prints the layer table with AlexNet's 58,299,082 parameters", () => {
    const r = runAlexc(["inspect", first]);
    expectSuccess(r);
    expect(r.stderr).toBe("");
    const out = r.stdout;
    expect(out).toMatch(/^Model: alexnet\n/);
    expect(out).toContain("IR version 8, opsets: ai.onnx 17");
    expect(out).toContain("Inputs: input [N,1,224,224]");
    expect(out).toContain("Outputs: logits [N,10]");
    expect(out).toMatch(/Layer \(node\)\s+Op\s+Output shape\s+Param #/);
    const rows: [string, string, string, string][] = [
      ["conv1/Conv", "Conv", "[N,96,55,55]", "11,712"],
      ["pool1/MaxPool", "MaxPool", "[N,96,27,27]", "0"],
      ["conv2/Conv", "Conv", "[N,256,27,27]", "614,656"],
      ["pool2/MaxPool", "MaxPool", "[N,256,13,13]", "0"],
      ["conv3/Conv", "Conv", "[N,384,13,13]", "885,120"],
      ["conv4/Conv", "Conv", "[N,384,13,13]", "1,327,488"],
      ["conv5/Conv", "Conv", "[N,256,13,13]", "884,992"],
      ["pool3/MaxPool", "MaxPool", "[N,256,6,6]", "0"],
      ["flatten1/Flatten", "Flatten", "[N,9216]", "0"],
      ["fc1/Gemm", "Gemm", "[N,4096]", "37,752,832"],
      ["fc2/Gemm", "Gemm", "[N,4096]", "16,781,312"],
      ["fc3/Gemm", "Gemm", "[N,10]", "40,970"],
    ];
    for (const [name, op, shape, params] of rows) {
      expect(out).toMatch(new RegExp(`^${escapeRe(name)}\\s+${op}\\s+${escapeRe(shape)}\\s+${params}$`, "m"));
    }
    expect(out).toMatch(/^Total params: 58,299,082$/m);
  });

  test("python3-onnx: the checker, strict shape inference and the IR spec's training_info rules pass", () => {
    const info = onnxCheck(first).training_info as { algorithm_sparse_initializers: string[]; initialization_outputs: string[] }[];
    expect(info).toHaveLength(1);
    // Adam: two moments for each of the 16 parameters, created with the step by the initialization graph.
    expect(info[0].algorithm_sparse_initializers).toHaveLength(32);
    expect(info[0].initialization_outputs).toHaveLength(33);
  });

  test("rebuilding with the same --seed gives a byte-identical file", () => {
    const again = path.join(dir, "alexnet-again.onnx");
    const r = runAlexc(["build", path.join(REPO_ROOT, ALEXNET), "--seed", "0", "-o", again], { cwd: dir });
    expectSuccess(r);
    expect(fs.statSync(again).size).toBe(fs.statSync(first).size);
    expect(sha256(again)).toBe(sha256(first));
    fs.rmSync(again);
  });

  test("LeNet builds; the same seed from another cwd is byte-identical, another --seed differs", () => {
    const d = tmp.sub("lenet");
    const a = path.join(d, "a.onnx");
    const b = path.join(d, "b.onnx");
    const c = path.join(d, "c.onnx");
    const ra = runAlexc(["build", LENET, "-o", a, "--seed", "7"]);
    expectSuccess(ra);
    expect(ra.stdout).toMatch(/^wrote .*a\.onnx \(lenet, \d+\.\d MB\) in \d+\.\d s\n$/);
    expectSuccess(runAlexc(["build", path.join(REPO_ROOT, LENET), "-o", "b.onnx", "--seed", "7"], { cwd: d }));
    expectSuccess(runAlexc(["build", LENET, "-o", c, "--seed", "8"]));
    expect(listDir(d)).toEqual(["a.onnx", "b.onnx", "c.onnx"]);
    const [ba, bb, bc] = [a, b, c].map((f) => fs.readFileSync(f));
    expect(ba.equals(bb)).toBe(true);
    expect(ba.equals(bc)).toBe(false);
    // Only the weights (and the seed in the metadata) change: the same size, a different hash.
    expect(bc.length).toBe(ba.length);

    const r = runAlexc(["inspect", a]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/^Model: lenet\n/);
    expect(r.stdout).toContain("Inputs: input [N,1,28,28]");
    expect(r.stdout).toMatch(/^conv1\/Conv\s+Conv\s+\[N,6,28,28\]\s+156$/m);
    expect(r.stdout).toMatch(/^pool2\/AveragePool\s+AveragePool\s+\[N,16,5,5\]\s+0$/m);
    expect(r.stdout).toMatch(/^flatten1\/Flatten\s+Flatten\s+\[N,400\]\s+0$/m);
    // 156 + 2,416 + 48,120 + 10,164 + 850
    expect(r.stdout).toMatch(/^Total params: 61,706$/m);
  });
});

// ---------------------------------------------------------------------------------------------

describe("alexc build: bad input fails with one clear line and leaves no file behind", () => {
  let syntaxFile: string;
  beforeAll(() => {
    // Stored as .ts.txt so that tsc does not type-check it; a model file needs the .ts name.
    const d = tmp.sub("syntax");
    syntaxFile = path.join(d, "syntax-error.ts");
    fs.copyFileSync(path.join(REPO_ROOT, FIXTURES, "syntax-error.ts.txt"), syntaxFile);
  });

  const fixtureLine = (file: string, needle: string): { line: number; text: string } => {
    const src = fs.readFileSync(path.resolve(REPO_ROOT, file), "utf8").split("\n");
    const i = src.findIndex((l) => l.includes(needle));
    if (i < 0) throw new Error(`${needle} not in ${file}`);
    return { line: i + 1, text: src[i] };
  };

  interface Case {
    name: string;
    model: () => string;
    exit: number;
    message: () => RegExp;
  }
  const cases: Case[] = [
    {
      name: "a missing model file",
      model: () => `${FIXTURES}/does-not-exist.ts`,
      exit: 2,
      message: () => new RegExp(`^alexc: ${escapeRe(`${FIXTURES}/does-not-exist.ts`)}: no such file$`),
    },
    {
      name: "a model file with a TypeScript syntax error",
      model: () => syntaxFile,
      exit: 2,
      message: () => {
        const { line } = fixtureLine(syntaxFile, "kernel: 5 )");
        return new RegExp(`^alexc: ${escapeRe(syntaxFile)}:${line}:\\d+: syntax error: Expected "\\}" but found "\\)"$`);
      },
    },
    {
      name: "a module that exports no model",
      model: () => `${FIXTURES}/no-model.ts`,
      exit: 2,
      message: () =>
        new RegExp(`^alexc: ${escapeRe(`${FIXTURES}/no-model.ts`)}: exports no model \\(exports: inputShape, summary\\); add \`export default model\\(\\{\\.\\.\\.\\}, \\(x\\) => \\.\\.\\.\\)\`$`),
    },
    {
      name: "a model file that throws while loading",
      model: () => `${FIXTURES}/throws-on-load.ts`,
      exit: 2,
      message: () => {
        const { line, text } = fixtureLine(`${FIXTURES}/throws-on-load.ts`, "JSON.parse(");
        const col = text.indexOf(".parse(") + 2;
        return new RegExp(`^alexc: ${escapeRe(`${FIXTURES}/throws-on-load.ts`)}:${line}:${col}: failed to load: .*JSON.*$`);
      },
    },
    {
      name: "a model that asks for an unknown weight init",
      model: () => `${FIXTURES}/unknown-init.ts`,
      exit: 2,
      message: () => {
        const { line } = fixtureLine(`${FIXTURES}/unknown-init.ts`, "export default model(");
        return new RegExp(
          `^alexc: ${escapeRe(`${FIXTURES}/unknown-init.ts`)}:${line}:\\d+: model 'unknown-init': unknown init "kaiming" \\(one of pytorch, xavier\\)$`,
        );
      },
    },
    {
      name: "a model with a shape error",
      model: () => `${FIXTURES}/shape-error.ts`,
      exit: 3,
      message: () => {
        const { line, text } = fixtureLine(`${FIXTURES}/shape-error.ts`, "inChannels: declaredChannels");
        const col = text.indexOf(".conv2d(") + 2;
        return new RegExp(
          `^alexc: ${escapeRe(`${FIXTURES}/shape-error.ts`)}:${line}:${col}: shape error in Conv 'conv2/Conv': input has 6 channels, weight expects 8$`,
        );
      },
    },
  ];

  describe.each(cases)("$name", (c) => {
    test("exit code, one message line, no output or temp file", () => {
      const d = tmp.sub("fail");
      const out = path.join(d, "out.onnx");
      const r = runAlexc(["build", c.model(), "-o", out]);
      const line = expectOneLineFailure(r, c.exit);
      expect(line).toMatch(c.message());
      expect(listDir(d)).toEqual([]);
    });

    test("an existing output file is left untouched", () => {
      const d = tmp.sub("keep");
      const out = path.join(d, "model.onnx");
      const previous = Buffer.from("previous build's bytes\n");
      fs.writeFileSync(out, previous);
      const past = new Date(Date.now() - 3600_000);
      fs.utimesSync(out, past, past);
      const before = fs.statSync(out);
      const r = runAlexc(["build", c.model(), "-o", out]);
      expect(r.status).toBe(c.exit);
      expect(fs.readFileSync(out).equals(previous)).toBe(true);
      expect(fs.statSync(out).mtimeMs).toBe(before.mtimeMs);
      expect(fs.statSync(out).ino).toBe(before.ino);
      expect(listDir(d)).toEqual(["model.onnx"]);
    });
  });

  test("--verbose (or ALEXC_VERBOSE=1) adds the stack trace to the same message", () => {
    const d = tmp.sub("verbose");
    const out = path.join(d, "out.onnx");
    const quiet = runAlexc(["build", `${FIXTURES}/shape-error.ts`, "-o", out]);
    const loud = runAlexc(["build", `${FIXTURES}/shape-error.ts`, "-o", out, "--verbose"]);
    expect(loud.status).toBe(3);
    expect(lines(loud.stderr)[0]).toBe(lines(quiet.stderr)[0]);
    expect(loud.stderr).toMatch(/^ShapeError: /m);
    expect(loud.stderr).toMatch(/^\s+at .*shape-error\.ts:\d+:\d+/m);
    const env = runAlexc(["build", `${FIXTURES}/shape-error.ts`, "-o", out], { env: { ALEXC_VERBOSE: "1" } });
    expect(env.status).toBe(3);
    expect(env.stderr).toMatch(/^\s+at /m);
    expect(listDir(d)).toEqual([]);
  });
});

describe("alexc build: an unwritable -o path", () => {
  test("a directory that does not exist", () => {
    const d = tmp.sub("nodir");
    const out = path.join(d, "no-such-dir", "out.onnx");
    const line = expectOneLineFailure(runAlexc(["build", LENET, "-o", out]), 4);
    expect(line).toBe(`alexc: cannot write ${out}: directory ${path.dirname(out)} does not exist`);
    expect(listDir(d)).toEqual([]);
  });

  test("a path under /proc (unwritable even for root)", () => {
    const out = "/proc/alexc-cli-test.onnx";
    const line = expectOneLineFailure(runAlexc(["build", LENET, "-o", out]), 4);
    expect(line.startsWith(`alexc: cannot write ${out}: `)).toBe(true);
    expect(fs.existsSync(out)).toBe(false);
  });

  test("an existing directory: the temp file written next to it is removed", () => {
    const d = tmp.sub("isdir");
    const out = path.join(d, "out.onnx");
    fs.mkdirSync(out);
    fs.writeFileSync(path.join(out, "inside"), "keep");
    const line = expectOneLineFailure(runAlexc(["build", LENET, "-o", out]), 4);
    expect(line.startsWith(`alexc: cannot write ${out}: `)).toBe(true);
    expect(listDir(d)).toEqual(["out.onnx"]);
    expect(fs.statSync(out).isDirectory()).toBe(true);
    expect(listDir(out)).toEqual(["inside"]);
  });
});

// ---------------------------------------------------------------------------------------------

describe("alexc inspect: a model exported by PyTorch", () => {
  test("decodes torch.onnx.export's AlexNet-like file and counts its parameters", () => {
    const d = tmp.sub("torch-export");
    const file = path.join(d, "torch.onnx");
    // Debian's PyTorch exports the model; its parameter count is the reference.
    const count = python(
      [
        "import sys, torch",
        "from torch import nn",
        "torch.manual_seed(0)",
        "net = nn.Sequential(nn.Conv2d(1, 8, 5, 1, 2), nn.ReLU(), nn.MaxPool2d(2), nn.Flatten(), nn.Linear(8 * 14 * 14, 10)).eval()",
        "torch.onnx.export(net, torch.zeros(1, 1, 28, 28), sys.argv[1], opset_version=13, input_names=['image'], output_names=['logits'])",
        "print(sum(p.numel() for p in net.parameters()))",
      ].join("\n"),
      [file],
    ).trim();
    const r = runAlexc(["inspect", file]);
    if (r.status !== 0) throw new Error(describeResult(r));
    expect(r.stdout).toMatch(/opsets: ai\.onnx 13/);
    expect(r.stdout).toMatch(/producer: pytorch/);
    expect(r.stdout).toMatch(/Inputs: image \[1,1,28,28\]/);
    for (const op of ["Conv", "Relu", "MaxPool", "Flatten", "Gemm"]) expect(r.stdout).toMatch(new RegExp(`\\b${op}\\b`));
    expect(r.stdout).toContain(`Total params: ${Number(count).toLocaleString("en-US")}`);
  });
});

describe("alexc inspect: files that are not ONNX models", () => {
  test.each([
    ["a text file", "notes.txt", () => Buffer.from("These are not the weights you are looking for.\nsecond line\n")],
    ["random bytes", "random.onnx", () => randomBytes(4096, 42)],
    ["an empty file", "empty.onnx", () => Buffer.alloc(0)],
    ["a JSON file", "model.json", () => Buffer.from(JSON.stringify({ irVersion: 8, graph: {} }))],
  ])("%s: one clear error, exit 4", (_label, name, bytes) => {
    const d = tmp.sub("notonnx");
    const file = path.join(d, name);
    fs.writeFileSync(file, bytes());
    const line = expectOneLineFailure(runAlexc(["inspect", file]), 4);
    expect(line).toMatch(new RegExp(`^alexc: ${escapeRe(file)}: not an ONNX model \\(.+\\)$`));
  });

  test("a file that does not exist, and a directory", () => {
    const d = tmp.sub("inspect-missing");
    const missing = path.join(d, "missing.onnx");
    expect(expectOneLineFailure(runAlexc(["inspect", missing]), 4)).toBe(`alexc: ${missing}: no such file`);
    expect(expectOneLineFailure(runAlexc(["inspect", d]), 4)).toBe(`alexc: ${d}: is a directory`);
  });
});

// ---------------------------------------------------------------------------------------------

describe("usage", () => {
  test("alexc --help lists the commands and the exit codes", () => {
    const r = runAlexc(["--help"]);
    expectSuccess(r);
    expect(r.stderr).toBe("");
    expect(r.stdout).toMatch(/^alexc <command> \[options\]/);
    expect(r.stdout).toMatch(/alexc build <model>/);
    expect(r.stdout).toMatch(/alexc inspect <file>/);
    expect(r.stdout).toMatch(/--verbose/);
    expect(r.stdout).toMatch(/Exit codes: 0 ok/);
  });

  test("alexc build --help documents the model, -o and --seed", () => {
    const r = runAlexc(["build", "--help"]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/^alexc build <model>/);
    expect(r.stdout).toMatch(/-o, --output/);
    expect(r.stdout).toMatch(/--seed/);
    expect(r.stdout).toMatch(/model file \(\.ts\)/);
  });

  test("alexc inspect --help", () => {
    const r = runAlexc(["inspect", "--help"]);
    expectSuccess(r);
    expect(r.stdout).toMatch(/^alexc inspect <file>/);
    expect(r.stdout).toMatch(/an \.onnx file/);
  });

  test("usage errors exit 64 with a hint and no stack", () => {
    const none = runAlexc([]);
    expect(none.status).toBe(64);
    expect(none.stderr).toMatch(/^alexc: name a command/);
    expect(none.stderr).toMatch(/alexc --help/);
    const noOut = runAlexc(["build", LENET]);
    expect(noOut.status).toBe(64);
    expect(noOut.stderr).toMatch(/^alexc: Missing required argument: output/);
    const unknown = runAlexc(["build", LENET, "-o", "/dev/null", "--frobnicate"]);
    expect(unknown.status).toBe(64);
    expect(unknown.stderr).toMatch(/frobnicate/);
    for (const r of [none, noOut, unknown]) expect(r.stderr).not.toMatch(/^\s+at /m);
  });
});

// ---------------------------------------------------------------------------------------------
// CLI bugs found by this file's first version (each was a `test.failing` until fixed in src/).

describe("fixed CLI bugs (regression tests)", () => {
  test("-o under a regular file: one clear I/O error (exit 4) naming the target, nothing left behind", () => {
    const d = tmp.sub("parentfile");
    fs.writeFileSync(path.join(d, "afile"), "x");
    const out = path.join(d, "afile", "out.onnx");
    const line = expectOneLineFailure(runAlexc(["build", LENET, "-o", out]), 4);
    expect(line.startsWith(`alexc: cannot write ${out}: `)).toBe(true);
    expect(line).toMatch(/ENOTDIR|not a directory/);
    expect(line).not.toMatch(/\.tmp\b/);
    expect(listDir(d)).toEqual(["afile"]);
  });

  test("--seed must be an integer in [0, 2^32−1]: abc, -1, 1.5 and 2^32 are usage errors (exit 64)", () => {
    const d = tmp.sub("seed");
    for (const seed of ["abc", "-1", "1.5", "4294967296"]) {
      const line = expectOneLineFailure(runAlexc(["build", LENET, "-o", path.join(d, "x.onnx"), "--seed", seed]), 64);
      expect(line).toMatch(/^alexc: --seed must be an integer in \[0, 4294967295\], got /);
    }
    expect(listDir(d)).toEqual([]);
  });

  test("syntax-error columns are 1-based, like shape errors", () => {
    const d = tmp.sub("syntax-col");
    const file = path.join(d, "m.ts");
    fs.writeFileSync(file, "const a = 1;\nconst b = );\n");
    const r = runAlexc(["build", file, "-o", path.join(d, "x.onnx")]);
    // the ")" is the 11th character of line 2
    expect(lines(r.stderr)[0]).toBe(`alexc: ${file}:2:11: syntax error: Unexpected ")"`);
  });
});

// ---------------------------------------------------------------------------------------------

function escapeRe(s: string): string {
  return s.replace(/[.*+?^${}()|[\]\\]/g, "\\$&");
}

/** Deterministic "random" bytes. */
function randomBytes(n: number, seed: number): Buffer {
  const rng = new Rng(seed);
  const out = Buffer.alloc(n);
  for (let i = 0; i < n; i++) out[i] = rng.nextU32() & 0xff;
  return out;
}
