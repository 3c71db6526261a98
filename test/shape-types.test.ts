/**
 * Type-level shapes (src/graph/shape-types.ts) against the build-time shape rules.
 *
 * 1. A sweep: each DSL op over a table of inputs and attribute values runs at build time (the
 *    real Tensor methods on a tracer), and the same call goes into a generated .ts fixture with
 *    an assertion that its type-level shape equals the build-time one, or, where the build
 *    fails, that tsc reports the same rule on that line. The TypeScript compiler API checks it.
 * 2. The bad models under test/types/ (each with one @ts-expect-error, so `tsc -p .` stays
 *    green): with the directive removed, tsc must report the listed message at file:line, and
 *    the build must fail there with the same rule.
 * 3. models/*.ts: every layer call's type equals the traced shape of its node (what an editor
 *    shows on hover), with no diagnostics.
 *
 * ts-jest only transpiles, so the checking happens here, in one program for all three parts.
 */
import * as fs from "fs";
import * as os from "os";
import * as path from "path";
import * as ts from "typescript";
import { concat, ModelDef, Tensor, Tracer } from "../src/graph/dsl";
import { ModelError, ShapeError } from "../src/graph/errors";
import { GraphBuilder } from "../src/graph/ir";
import { trace } from "../src/graph/trace";
import type { Dim } from "../src/graph/types";

const ROOT = path.resolve(__dirname, "..");
const rel = (f: string) => path.relative(ROOT, f).split(path.sep).join("/");

// ---- build time: run one DSL call on a tracer whose parameters are plain graph inputs ----

type Outcome = { shape: Dim[] } | { error: string };

function tracer(): { b: GraphBuilder; t: Tracer } {
  const b = new GraphBuilder("shape-types");
  return { b, t: new Tracer(b, { params: (bb, name, dims) => bb.input(name, "float32", dims), training: false }) };
}

/** A tensor argument of a case: its `others[k - 1]`, or the receiver (k = 0). */
class Ref {
  constructor(readonly k: number) {}
}

function buildTime(c: Case): Outcome {
  const { b, t } = tracer();
  const tensors = [c.input, ...(c.others ?? [])].map((shape, k) => new Tensor(b.input(`x${k}`, "float32", shape), t));
  const resolve = (v: unknown): unknown => (v instanceof Ref ? tensors[v.k] : Array.isArray(v) ? v.map(resolve) : v);
  const args = c.args.map(resolve);
  try {
    const y = c.method === "concat"
      ? (concat as (...a: unknown[]) => Tensor)(...args)
      : (tensors[0] as unknown as Record<string, (...a: unknown[]) => Tensor>)[c.method](...args);
    return { shape: [...y.shape] };
  } catch (e) {
    if (e instanceof ShapeError) return { error: e.rule };
    if (e instanceof ModelError) return { error: e.message.replace(/^[\w]+: /, "") };
    throw e;
  }
}

/** Runs a model's forward with cheap parameters; the first failure's rule, if any. */
function buildModel(def: ModelDef): { b: GraphBuilder; error?: string } {
  const { b } = tracer();
  const input = b.input("input", "float32", def.spec.input);
  try {
    trace(def, b, input, { params: (bb, name, dims) => bb.input(name, "float32", dims), training: false });
    return { b };
  } catch (e) {
    if (e instanceof ShapeError) return { b, error: e.rule };
    if (e instanceof ModelError) return { b, error: e.message.replace(/^[\w]+: /, "") };
    throw e;
  }
}

const fmt = (s: readonly Dim[]) => `[${s.join(",")}]`;

/**
 * The type-level message for a build-time failure. Window and dropout rules read the same; the
 * type level says what the declared option says (build time names the weight it made from it).
 */
function typeMessage(method: string, input: readonly Dim[], rule: string): string {
  let m: RegExpExecArray | null;
  if ((m = /^input has (\d+) channels, weight expects (\d+)$/.exec(rule))) return `conv2d: input has ${m[1]} channels, inChannels says ${m[2]}`;
  if ((m = /^input has (\d+) features, weight expects (\d+) /.exec(rule))) return `linear: input has ${m[1]} features, inFeatures says ${m[2]}`;
  if (/^inputs must be matrices/.test(rule) || /^input features must be known \(got undefined\)/.test(rule)) {
    return `linear: input must be [N, features], got ${fmt(input)}${input.length > 2 ? " (flatten it first)" : ""}`;
  }
  if (/^(input must be \[N, C, spatial|weight rank|kernel_shape must have|input channels must be known \(got undefined\))/.test(rule)) {
    return `${method}: input must be [N, C, H, W], got ${fmt(input)}`;
  }
  if (/^axis 1 is out of range for rank 0$/.test(rule)) return "flatten: input has rank 0, nothing to flatten";
  if ((m = /^dropout probability (.*)$/.exec(rule))) return `dropout: probability ${m[1]}`;
  return `${method}: ${rule}`;
}

/** The type a build-time shape should have: literals, except symbols the op made up (`string`). */
function expectedType(input: readonly Dim[], shape: readonly Dim[]): string {
  const dims = shape.map((d) => (typeof d === "number" ? String(d) : input.includes(d) ? JSON.stringify(d) : "string"));
  return `readonly [${dims.join(", ")}]`;
}

/** A value as TypeScript source; a Ref as the name `ref` gives it. */
function lit(v: unknown, ref: (k: number) => string = () => "?"): string {
  if (v === undefined) return "undefined";
  if (v instanceof Ref) return ref(v.k);
  if (Array.isArray(v)) return `[${v.map((x) => lit(x, ref)).join(", ")}]`;
  if (typeof v === "object" && v !== null) {
    const entries = Object.entries(v).filter(([, x]) => x !== undefined);
    return entries.length ? `{ ${entries.map(([k, x]) => `${k}: ${lit(x, ref)}`).join(", ")} }` : "{}";
  }
  return typeof v === "string" ? JSON.stringify(v) : String(v);
}

// ---- the sweep table ----

interface Case {
  readonly input: readonly Dim[];
  /** "concat" is the function concat(...args); anything else a method on the input. */
  readonly method: string;
  readonly args: readonly unknown[];
  /** More input tensors, for Refs 1, 2, … in args. */
  readonly others?: readonly (readonly Dim[])[];
}

/** A small deterministic generator, so the table is the same on every run. */
function lcg(seed: number): <T>(xs: readonly T[]) => T {
  let s = seed >>> 0;
  return (xs) => {
    s = (Math.imul(s, 1664525) + 1013904223) >>> 0;
    return xs[(s >>> 16) % xs.length];
  };
}

function sweepCases(): Case[] {
  const cases: Case[] = [];
  const pick = lcg(2024);
  const sizes: [number, number][] = [[1, 1], [3, 3], [5, 7], [12, 9], [28, 28], [32, 17], [55, 55], [224, 224], [227, 227], [1000, 999]];
  const optional = <T>(xs: readonly T[]) => [undefined, ...xs];

  // conv2d: window arithmetic, pairs, dilation, channel declarations, edges of the fit
  for (let i = 0; i < 150; i++) {
    const [h, w] = pick(sizes);
    const c = pick([1, 3, 64]);
    const kernel = pick<number | number[]>([1, 2, 3, 5, 11, [3, 5], [7, 1]]);
    const stride = pick(optional<number | number[]>([1, 2, 4, [2, 3]]));
    const padding = pick(optional<number | number[]>([0, 1, 2, [1, 3]]));
    const dilation = pick(optional<number | number[]>([1, 2, [1, 3]]));
    const inChannels = pick([undefined, undefined, c, c + 1]);
    cases.push({ input: ["N", c, h, w], method: "conv2d", args: [pick([1, 6, 96, 4096]), { kernel, stride, padding, dilation, inChannels }] });
  }
  for (const [size, kernel, padding, dilation] of [
    [3, 3, 0, 1], [3, 4, 0, 1], [3, 5, 1, 1], [3, 6, 1, 1], [5, 3, 0, 2], [4, 3, 0, 2], [1, 11, 5, 1], [1, 12, 5, 1], [7, 4, 0, 3],
  ]) {
    cases.push({ input: ["N", 2, size, 9], method: "conv2d", args: [4, { kernel, padding, dilation }] });
    cases.push({ input: ["N", 2, 9, size], method: "conv2d", args: [4, { kernel, padding, dilation, stride: 2 }] });
  }

  // maxPool2d / avgPool2d: the stride defaults to the kernel; ceil mode
  for (let i = 0; i < 120; i++) {
    const [h, w] = pick(sizes);
    const kernel = pick<number | number[]>([1, 2, 3, [2, 3], [3, 1]]);
    const stride = pick(optional<number | number[]>([1, 2, 3, [1, 2]]));
    const padding = pick(optional<number | number[]>([0, 1, [1, 0]]));
    const ceilMode = pick([undefined, false, true]);
    const opts = { stride, padding, ceilMode };
    const method = pick(["maxPool2d", "avgPool2d"]);
    cases.push({ input: ["N", pick([1, 96]), h, w], method, args: Object.values(opts).every((v) => v === undefined) ? [kernel] : [kernel, opts] });
  }
  cases.push({ input: ["N", 96, 55, 55], method: "maxPool2d", args: [3, { stride: 2 }] });
  cases.push({ input: ["N", 3, 2, 2], method: "maxPool2d", args: [3] });
  cases.push({ input: ["N", 3, 2, 2], method: "avgPool2d", args: [3, { padding: 1 }] });
  cases.push({ input: ["N", 3, 5, 2], method: "avgPool2d", args: [[2, 3]] });

  // flatten: products up to 37752832 and past
  for (const input of [
    ["N"], ["N", 5], ["N", 256, 6, 6], ["N", 96, 55, 55], ["N", 4096, 9217], ["N", 1000, 1000, 1000], ["N", 65536, 65536, 1024],
    [7, 3, 2], ["N", 0, 5], ["N", 1, 1, 1, 1, 1], [1, 99999, 99999],
  ] as Dim[][]) {
    cases.push({ input, method: "flatten", args: [] });
  }

  // linear: declared features, rank
  for (const [input, out, inFeatures] of [
    [["N", 9216], 4096, undefined], [["N", 9216], 4096, 9216], [["N", 9216], 4096, 4096], [["N", 400], 120, 256],
    [[32, 84], 10, undefined], [["N", 16, 5, 5], 120, undefined], [["N", 16, 5, 5], 120, 400], [["N", 10, 3], 2, undefined],
  ] as [Dim[], number, number | undefined][]) {
    cases.push({ input, method: "linear", args: inFeatures === undefined ? [out] : [out, { inFeatures }] });
  }

  // activations and dropout keep the shape; dropout checks p
  for (const method of ["relu", "sigmoid", "tanh"]) {
    cases.push({ input: ["N", 96, 55, 55], method, args: [] });
    cases.push({ input: ["N", 10], method, args: [] });
  }
  for (const p of [0, 0.5, 0.999, 1e-7, 1, 1.5, -0.1]) cases.push({ input: ["N", 4096], method: "dropout", args: [p] });

  // symbolic dims: batch and channels pass through, made-up sizes are `string`, unknown counts fail
  cases.push({ input: ["N", 3, "H", 28], method: "conv2d", args: [8, { kernel: 3 }] });
  cases.push({ input: ["N", "C", 28, 28], method: "conv2d", args: [8, { kernel: 3 }] });
  cases.push({ input: ["N", "C", 28, 28], method: "conv2d", args: [8, { kernel: 3, inChannels: 5 }] });
  cases.push({ input: ["N", "C", "H", 28], method: "maxPool2d", args: [2] });
  cases.push({ input: ["N", "C", 5], method: "flatten", args: [] });
  cases.push({ input: ["B", 7], method: "linear", args: [3] });
  cases.push({ input: ["N", "F"], method: "linear", args: [3] });
  cases.push({ input: ["N", "F"], method: "linear", args: [3, { inFeatures: 5 }] });

  // ranks the ops refuse
  cases.push({ input: ["N", 1, 28], method: "conv2d", args: [3, { kernel: 2 }] });
  cases.push({ input: ["N", 10], method: "conv2d", args: [3, { kernel: 2 }] });
  cases.push({ input: ["N", 1, 28], method: "avgPool2d", args: [2] });
  cases.push({ input: ["N", 1, 28, 28, 28], method: "maxPool2d", args: [2] });
  cases.push({ input: [], method: "flatten", args: [] });
  cases.push({ input: ["N"], method: "linear", args: [3] });

  // add/sub/mul/div: numpy broadcasting (rank mismatch, 1-dims, symbols, numbers), and mismatches
  const y = new Ref(1);
  const pairs: [Dim[], Dim[]][] = [
    [["N", 96, 55, 55], ["N", 96, 55, 55]], [["N", 96, 55, 55], ["N", 64, 55, 55]], [["N", 96, 55, 55], [96, 1, 1]],
    [["N", 96, 55, 55], [55]], [["N", 96, 55, 55], [1]], [["N", 96, 55, 55], []], [[], ["N", 3]], [[3, 1], [1, 4]],
    [[1, 4], [3, 1]], [[2, 3], [4, 3]], [["N", 3, 5], [4, 1]], [["N", 3, 5], [3, 4]], [[5], [2, 3, 5]], [[5], [2, 3, 4]],
    [["N", 10], [1, 10]], [[1, 10], ["N", 10]], [["N", 1], ["M", 7]], [["N", 4], ["M", 4]], [["N", 4], [7, 4]], [[7, 4], ["N", 4]],
    [["N", 4096], [4096]], [["N", 4096], [4095]], [[1, 1, 1], [8, 1, 6, 1]], [[8, 1, 6, 1], [7, 1, 5]], [[256, 256, 3], [3]],
    [[5, 4], [4]], [[15, 3, 5], [15, 1, 5]], [[15, 3, 5], [3, 1]], [[2, 1], [8, 4, 3]], [[1000, 999], [999, 1]],
  ];
  pairs.forEach(([a, bb], i) => cases.push({ input: a, method: ["add", "sub", "mul", "div"][i % 4], args: [y], others: [bb] }));
  for (const [method, v] of [["add", 1], ["sub", 0.5], ["mul", 2], ["div", 255]] as const) cases.push({ input: ["N", 3, 28, 28], method, args: [v] });
  cases.push({ input: ["N", 8], method: "add", args: [new Ref(0)] });

  // matmul: 2-D, batched with broadcast batch dims, inner-dim and batch mismatches, rank < 2
  for (const [a, bb] of [
    [[3, 4], [4, 5]], [["N", 4], [4, 5]], [[3, 4], [5, 6]], [[2, 3, 4], [4, 5]], [[2, 3, 4], [2, 4, 5]], [[2, 3, 4], [3, 4, 5]],
    [[1, 3, 4], [7, 4, 5]], [["N", 8, 16, 32], ["N", 8, 32, 16]], [["N", 8, 16, 32], [1, 8, 32, 16]], [["N", 8, 16, 32], [32, 16]],
    [["N", 4, 26, 26], ["N", 4, 13, 13]], [[2, 1, 3, 4], [5, 4, 6]], [[2, 2, 3, 4], [5, 4, 6]], [["N", "K"], ["K", 5]], [["N", "K"], [7, 5]],
    [[4], [4, 5]], [[3, 4], [4]], [[9216, 4096], [4096, 1000]], [[1, 1], [1, 1]],
  ] as [Dim[], Dim[]][]) {
    cases.push({ input: a, method: "matmul", args: [y], others: [bb] });
  }

  // concat: axis 0, 1, −1, out of range; sizes that sum past one digit; mismatches of dims and rank
  const x = new Ref(0);
  for (const [shapes, axis] of [
    [[["N", 64, 27, 27], ["N", 32, 27, 27]], 1], [[["N", 64, 27, 27], ["N", 32, 27, 27], ["N", 960, 27, 27]], 1],
    [[["N", 64, 27, 27], ["N", 32, 13, 13]], 1], [[["N", 64, 27, 27], ["N", 64, 27, 28]], -1], [[["N", 3, 4], ["N", 3, 5]], -1],
    [[["N", 3, 4], ["N", 3, 5]], 2], [[["N", 3, 4], ["N", 3, 5]], 3], [[["N", 3, 4], ["N", 3, 5]], -4], [[["N", 3, 4], ["N", 3, 4]], -3],
    [[[2, 3], [5, 3]], 0], [[[2, 3], [5, 4]], 0], [[[2, 3], [5, 3], [9999, 3]], 0], [[["N", 3], ["N", 3]], 0],
    [[["N", 3], ["M", 3]], 1], [[["N", 3], [7, 3]], 1], [[["N", 3], ["N", 3, 1]], 1], [[["N", 3, "W"], ["N", 4, "W"]], 1],
    [[["N", 3, "W"], ["N", 3, 5]], 2], [[["N", 5]], 1], [[["N", 5]], -1],
  ] as [Dim[][], number][]) {
    cases.push({ input: shapes[0], method: "concat", args: [shapes.map((_, k) => new Ref(k)), axis], others: shapes.slice(1) });
  }
  cases.push({ input: ["N", 5], method: "concat", args: [[x, x, x], 1] });
  cases.push({ input: ["N", 5], method: "concat", args: [[], 0] });
  return cases;
}

/**
 * Where the answer is not static: no error, and `number`/`string`/Dim in place of literals.
 * An expr that does not start with "." is a whole call, `$` standing for the declared tensor.
 */
const DEGRADED: readonly { decl: string; expr: string; type: string }[] = [
  { decl: "Tensor<readonly [number, number, number, number]>", expr: ".conv2d(8, { kernel: 3 })", type: "readonly [number, 8, number, number]" },
  { decl: "Tensor<readonly [number, number, number, number]>", expr: ".maxPool2d(2).flatten()", type: "readonly [number, number]" },
  { decl: "Tensor", expr: ".conv2d(8, { kernel: 3 })", type: "readonly [Dim, 8, Dim, Dim]" },
  { decl: "Tensor", expr: ".flatten().linear(10, { inFeatures: 3 })", type: "readonly [Dim, 10]" },
  { decl: "Tensor<readonly Dim[]>", expr: ".avgPool2d(2)", type: "readonly [Dim, Dim, Dim, Dim]" },
  { decl: "Tensor<readonly number[]>", expr: ".avgPool2d(2)", type: "readonly [number, number, number, number]" },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".conv2d(8, { kernel: someNumber })", type: 'readonly ["N", 8, number, number]' },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".conv2d(8, { kernel: 3, stride: someNumber })", type: 'readonly ["N", 8, number, number]' },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".conv2d(8, { kernel: 3, inChannels: someNumber })", type: 'readonly ["N", 8, 26, 26]' },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".conv2d(8, someConvOptions)", type: 'readonly ["N", 8, number, number]' },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".maxPool2d(2, { ceilMode: someBoolean })", type: 'readonly ["N", 1, number, number]' },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".conv2d(someNumber, { kernel: 3 }).flatten()", type: 'readonly ["N", number]' },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".conv2d(8, { kernel: 2.5 })", type: 'readonly ["N", 8, number, number]' },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".flatten().dropout(someNumber)", type: 'readonly ["N", 784]' },
  { decl: 'Tensor<readonly ["N", 1 | 3, 28, 28]>', expr: ".flatten()", type: 'readonly ["N", number]' },
  { decl: 'Tensor<readonly ["N", 99999, 99999, 99999, 99999]>', expr: ".flatten()", type: 'readonly ["N", number]' },
  { decl: "Tensor<any>", expr: ".conv2d(8, { kernel: 3 }).flatten()", type: "readonly [Dim, Dim]" },
  { decl: "Tensor<readonly [number, 3]>", expr: ".add(t53)", type: "readonly [5, 3]" },
  { decl: "Tensor<readonly [1, 3]>", expr: ".sub(tNum)", type: "readonly [number, 3]" },
  { decl: "Tensor<readonly [number, 3]>", expr: ".mul(tN3)", type: 'readonly [Dim, 3]' },
  { decl: 'Tensor<readonly ["N", 3]>', expr: ".div(someNumber)", type: 'readonly ["N", 3]' },
  { decl: "Tensor", expr: ".add(t53)", type: "readonly Dim[]" },
  { decl: "Tensor<any>", expr: ".add(t53)", type: "readonly Dim[]" },
  { decl: 'Tensor<readonly ["N", 3]>', expr: ".matmul(tNum)", type: 'readonly ["N", number]' },
  { decl: "Tensor<readonly [2, 3]>", expr: "concat([$, t53], someNumber)", type: "readonly [number, number]" },
  { decl: "Tensor<readonly [2, 3]>", expr: "concat([$, tAny], 0)", type: "readonly [Dim, 3]" },
  { decl: "Tensor<readonly [2, 3]>", expr: "concat([$, tNum], 0)", type: "readonly [number, 3]" },
];

/** Errors with no build-time counterpart: the build ignores unknown options, the types flag them. */
const TYPE_ONLY_ERRORS: readonly { decl: string; expr: string; error: string }[] = [
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".conv2d(8, { kernel: 3, strides: 2 })", error: "conv2d: unknown option 'strides'" },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".maxPool2d(2, { stride: 2, strides: 2 })", error: "maxPool2d: unknown option 'strides'" },
  { decl: 'Tensor<readonly ["N", 1, 28, 28]>', expr: ".avgPool2d(2, { stride: 2, ceil: true })", error: "avgPool2d: unknown option 'ceil'" },
  { decl: 'Tensor<readonly ["N", 784]>', expr: '.linear(10, { inFeatures: 784, nam: "fc" })', error: "linear: unknown option 'nam'" },
];

/** The digit arithmetic itself, on random operands up to 2^53 (exact in doubles and in literal types). */
function arithmeticCases(): { expr: string; value: number | "number" }[] {
  const pick = lcg(99);
  const digit = [0, 1, 2, 3, 4, 5, 6, 7, 8, 9];
  const operand = () => Number(Array.from({ length: pick([1, 1, 2, 3, 4, 5, 8, 11, 15]) }, () => pick(digit)).join(""));
  const out: { expr: string; value: number | "number" }[] = [];
  for (let i = 0; i < 40; i++) {
    const a = operand();
    const b = operand();
    // A result stays a literal when its decimal text is a number literal TypeScript keeps exactly.
    const exact = (v: bigint) => (String(Number(v)) === v.toString() ? Number(v) : ("number" as const));
    out.push({ expr: `Add<${a}, ${b}>`, value: exact(BigInt(a) + BigInt(b)) });
    out.push({ expr: `Sub<${a}, ${b}>`, value: a >= b ? a - b : "number" });
    out.push({ expr: `Mul<${a}, ${b}>`, value: exact(BigInt(a) * BigInt(b)) });
    out.push({ expr: `FloorDiv<${a}, ${b}>`, value: b === 0 ? "number" : Math.floor(a / b) });
    out.push({ expr: `Compare<${a}, ${b}>`, value: 0 }); // checked below as "lt" | "eq" | "gt"
  }
  return out;
}

// ---- the fixture ----

interface Line {
  readonly what: string;
  /** The message tsc must give on this line; none means no diagnostic. */
  readonly error?: string;
}

function sweepFixture(cases: readonly Case[]): { text: string; lines: Map<number, Line> } {
  const out = [
    "// Generated by test/shape-types.test.ts: each call's type-level shape against the build-time rule.",
    'import { concat } from "../../src/graph/dsl";',
    'import type { Conv2dOptions, Tensor } from "../../src/graph/dsl";',
    'import type { Add, Compare, FloorDiv, Mul, ShapeOf, Sub } from "../../src/graph/shape-types";',
    'import type { Dim } from "../../src/graph/types";',
    "type Equal<A, B> = (<T>() => T extends A ? 1 : 2) extends <T>() => T extends B ? 1 : 2 ? true : false;",
    "type Assert<T extends true> = T;",
    "declare const someNumber: number;",
    "declare const someBoolean: boolean;",
    "declare const someConvOptions: Conv2dOptions;",
    "declare const t53: Tensor<readonly [5, 3]>;",
    'declare const tN3: Tensor<readonly ["N", 3]>;',
    "declare const tNum: Tensor<readonly [number, number]>;",
    "declare const tAny: Tensor;",
  ];
  const lines = new Map<number, Line>();
  const emit = (text: string, line?: Line) => {
    out.push(text);
    if (line) lines.set(out.length, line);
  };
  cases.forEach((c, i) => {
    const inputs = [c.input, ...(c.others ?? [])];
    const name = (k: number) => (k === 0 ? `x${i}` : `x${i}_${k}`);
    const args = c.args.map((a) => lit(a, name)).join(", ");
    const call = c.method === "concat" ? `concat(${args})` : `${name(0)}.${c.method}(${args})`;
    const what = `${inputs.map(fmt).join(" ")} ${call}`;
    const result = buildTime(c);
    inputs.forEach((shape, k) => emit(`declare const ${name(k)}: Tensor<readonly [${shape.map((d) => lit(d)).join(", ")}]>;`));
    if ("shape" in result) {
      emit(`const y${i} = ${call};`, { what });
      emit(`export type T${i} = Assert<Equal<ShapeOf<typeof y${i}>, ${expectedType(inputs.flat(), result.shape)}>>;`, { what: `${what}: ${fmt(result.shape)}` });
    } else {
      emit(`${call};`, { what, error: typeMessage(c.method, c.input, result.error) });
    }
  });
  TYPE_ONLY_ERRORS.forEach((d, i) => {
    emit(`declare const e${i}: ${d.decl};`);
    emit(`e${i}${d.expr};`, { what: `${d.decl} ${d.expr}`, error: d.error });
  });
  arithmeticCases().forEach(({ expr, value }, i) => {
    let want = String(value);
    const cmp = /^Compare<(\d+), (\d+)>$/.exec(expr);
    if (cmp) want = JSON.stringify(Number(cmp[1]) < Number(cmp[2]) ? "lt" : Number(cmp[1]) > Number(cmp[2]) ? "gt" : "eq");
    emit(`export type A${i} = Assert<Equal<${expr}, ${want}>>;`, { what: `${expr} = ${want}` });
  });
  DEGRADED.forEach((d, i) => {
    const what = `${d.decl} ${d.expr}`;
    emit(`declare const u${i}: ${d.decl};`);
    emit(`const v${i} = ${d.expr.startsWith(".") ? `u${i}${d.expr}` : d.expr.replace("$", `u${i}`)};`, { what });
    emit(`export type D${i} = Assert<Equal<ShapeOf<typeof v${i}>, ${d.type}>>;`, { what: `${what}: ${d.type}` });
  });
  return { text: out.join("\n") + "\n", lines };
}

// ---- the bad models ----

const BAD_MODELS: readonly { file: string; line: number; message: string }[] = [
  { file: "test/types/bad-in-features.ts", line: 19, message: "linear: input has 9216 features, inFeatures says 4096" },
  { file: "test/types/bad-in-channels.ts", line: 14, message: "conv2d: input has 6 channels, inChannels says 16" },
  { file: "test/types/kernel-too-large.ts", line: 14, message: "conv2d: kernel 15 is larger than the padded input width 14+2*0=14" },
  { file: "test/types/input-too-small.ts", line: 18, message: "maxPool2d: kernel 3 is larger than the padded input height 1+2*0=1" },
  { file: "test/types/missing-flatten.ts", line: 15, message: "linear: input must be [N, features], got [N,16,5,5] (flatten it first)" },
  { file: "test/types/broadcast-mismatch.ts", line: 12, message: "add: shapes [N,96,55,55] and [N,64,55,55] do not broadcast (axis 1: 96 vs 64)" },
  {
    file: "test/types/concat-mismatch.ts",
    line: 12,
    message: "concat: inputs [N,64,27,27] and [N,32,13,13] differ at axis 2 (27 vs 13); only the concat axis 1 may differ",
  },
  { file: "test/types/matmul-mismatch.ts", line: 12, message: "matmul: inner dimensions differ: [N,4,26,26] · [N,4,13,13] (26 vs 13)" },
  { file: "test/types/residual-mismatch.ts", line: 14, message: "residual: the block gives [N,128,12,12] but the shortcut gives [N,64,24,24]" },
];

const MODELS = ["models/alexnet.ts", "models/lenet.ts", "test/fixtures/residual.ts", "models/resnet18.ts", "models/vgg11.ts", "models/nin.ts", "test/fixtures/batchnorm-cnn.ts"];

// ---- one program for everything ----

interface Checked {
  program: ts.Program;
  diagnostics: (file: string) => { line: number; text: string }[];
  sweepPath: string;
  sweepText: string;
  sweepLines: Map<number, Line>;
}

let checked: Checked | undefined;

function check(): Checked {
  if (checked) return checked;
  const config = ts.getParsedCommandLineOfConfigFile(path.join(ROOT, "tsconfig.json"), {}, {
    ...ts.sys,
    onUnRecoverableConfigFileDiagnostic: (d) => {
      throw new Error(ts.flattenDiagnosticMessageText(d.messageText, "\n"));
    },
  });
  if (!config) throw new Error("cannot read tsconfig.json");
  const options = { ...config.options, noEmit: true };
  const sweepPath = path.join(ROOT, "test", "types", "generated-sweep.ts");
  const { text: sweepText, lines: sweepLines } = sweepFixture(sweepCases());
  // The bad models with their directive disarmed (same length, so lines and columns stay).
  const overrides = new Map<string, string>([[sweepPath, sweepText]]);
  for (const b of BAD_MODELS) {
    const file = path.join(ROOT, b.file);
    overrides.set(file, fs.readFileSync(file, "utf8").replace(/@ts-expect-error/g, "-ts-expect-error"));
  }
  const host = ts.createCompilerHost(options, true);
  const { getSourceFile, fileExists, readFile } = host;
  host.getSourceFile = (name, lang, onError, fresh) => {
    const text = overrides.get(path.resolve(name));
    return text !== undefined ? ts.createSourceFile(name, text, lang, true) : getSourceFile.call(host, name, lang, onError, fresh);
  };
  host.fileExists = (name) => overrides.has(path.resolve(name)) || fileExists.call(host, name);
  host.readFile = (name) => overrides.get(path.resolve(name)) ?? readFile.call(host, name);
  const roots = [sweepPath, ...BAD_MODELS.map((b) => path.join(ROOT, b.file)), ...MODELS.map((m) => path.join(ROOT, m))];
  const program = ts.createProgram({ rootNames: roots, options, host });
  const diagnostics = (file: string) => {
    const sf = program.getSourceFile(file);
    if (!sf) throw new Error(`not in the program: ${file}`);
    return [...program.getSyntacticDiagnostics(sf), ...program.getSemanticDiagnostics(sf)].map((d) => ({
      line: d.file && d.start !== undefined ? d.file.getLineAndCharacterOfPosition(d.start).line + 1 : 0,
      text: ts.flattenDiagnosticMessageText(d.messageText, "\n"),
    }));
  };
  checked = { program, diagnostics, sweepPath, sweepText, sweepLines };
  return checked;
}

/** The messages of the ShapeError types named in a diagnostic. */
function shapeErrors(text: string): string[] {
  return [...new Set([...text.matchAll(/ShapeError<"((?:[^"\\]|\\.)*)">/g)].map((m) => JSON.parse(`"${m[1]}"`) as string))];
}

describe("type-level shapes", () => {
  test("the sweep: every op's type-level shape or error equals the build-time rule's", () => {
    const c = check();
    const problems: string[] = [];
    const byLine = new Map<number, string[]>();
    for (const d of c.diagnostics(c.sweepPath)) byLine.set(d.line, [...(byLine.get(d.line) ?? []), d.text]);
    for (const [line, texts] of byLine) {
      const want = c.sweepLines.get(line);
      if (!want?.error) problems.push(`line ${line} (${want?.what ?? "no case"}): unexpected ${texts.join(" | ")}`);
    }
    for (const [line, want] of c.sweepLines) {
      if (!want.error) continue;
      const got = (byLine.get(line) ?? []).flatMap(shapeErrors);
      if (got.length !== 1 || got[0] !== want.error) problems.push(`line ${line} (${want.what}): want "${want.error}", got ${JSON.stringify(got)}`);
    }
    if (problems.length) {
      const dump = path.join(fs.mkdtempSync(path.join(os.tmpdir(), "shape-types-")), "generated-sweep.ts");
      fs.writeFileSync(dump, c.sweepText);
      problems.unshift(`fixture written to ${dump}`);
    }
    expect(problems).toEqual([]);
    const cases = [...c.sweepLines.values()];
    expect(cases.filter((l) => l.error).length).toBeGreaterThan(40);
    expect(cases.length).toBeGreaterThan(500);
  });

  test.each(BAD_MODELS)("$file fails tsc at line $line: $message", ({ file, line, message }) => {
    const c = check();
    const abs = path.join(ROOT, file);
    const diags = c.diagnostics(abs);
    expect(diags.map((d) => `${file}:${d.line}: ${shapeErrors(d.text).join(" | ")}`)).toEqual([`${file}:${line}: ${message}`]);
    expect(diags[0].text).toContain(`ShapeError<"${message}">`);
    // The directive sits right above, and the build fails with the same rule.
    const source = fs.readFileSync(abs, "utf8").split("\n");
    expect(source[line - 2]).toContain(`@ts-expect-error -- ${message}`);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const def = (require(abs) as { default: ModelDef }).default;
    const built = buildModel(def);
    expect(built.error).toBeDefined();
    const method = message.slice(0, message.indexOf(":"));
    const input = built.b.nodes.length ? built.b.nodes[built.b.nodes.length - 1].outputs[0].shape : def.spec.input;
    expect(typeMessage(method, input, built.error!)).toBe(message);
  });

  test.each(MODELS)("%s: no diagnostics, and every layer's type is its traced shape", (file) => {
    const c = check();
    const abs = path.join(ROOT, file);
    expect(c.diagnostics(abs).map((d) => `${file}:${d.line}: ${d.text}`)).toEqual([]);
    const checker = c.program.getTypeChecker();
    const calls: { method: string; type: string }[] = [];
    const visit = (n: ts.Node) => {
      ts.forEachChild(n, visit); // the receiver and operands first: source order of evaluation
      if (ts.isCallExpression(n) && (ts.isPropertyAccessExpression(n.expression) || ts.isIdentifier(n.expression))) {
        const type = checker.typeToString(checker.getTypeAtLocation(n), undefined, ts.TypeFormatFlags.NoTruncation);
        const method = ts.isIdentifier(n.expression) ? n.expression.text : n.expression.name.text;
        if (type.startsWith("Tensor<")) calls.push({ method, type });
      }
    };
    visit(c.program.getSourceFile(abs)!);
    // eslint-disable-next-line @typescript-eslint/no-require-imports
    const def = (require(abs) as { default: ModelDef }).default;
    const built = buildModel(def);
    expect(built.error).toBeUndefined();
    const input = def.spec.input;
    const nodes = built.b.nodes.map((n) => n.outputs[0].shape);
    let i = 0;
    let last = input;
    const want = calls.map((call) => {
      if (call.method !== "dropout") last = nodes[i++]; // inference graphs have no Dropout node
      return `${call.method}: Tensor<${expectedType(input, last)}, "float32">`;
    });
    const got = calls.map((call) => `${call.method}: ${call.type}`);
    expect(i).toBe(nodes.length);
    expect(got).toEqual(want);
  });

  test("AlexNet's landmarks, as the editor shows them", () => {
    const c = check();
    const checker = c.program.getTypeChecker();
    const sf = c.program.getSourceFile(path.join(ROOT, "models/alexnet.ts"))!;
    const shown: string[] = [];
    const visit = (n: ts.Node) => {
      ts.forEachChild(n, visit);
      if (ts.isCallExpression(n) && ts.isPropertyAccessExpression(n.expression) && ["conv2d", "maxPool2d", "flatten", "linear"].includes(n.expression.name.text)) {
        shown.push(`${n.expression.name.text} ${checker.typeToString(checker.getTypeAtLocation(n))}`);
      }
    };
    visit(sf);
    expect(shown[0]).toBe('conv2d Tensor<readonly ["N", 96, 55, 55], "float32">');
    expect(shown).toContain('maxPool2d Tensor<readonly ["N", 256, 6, 6], "float32">');
    expect(shown).toContain('flatten Tensor<readonly ["N", 9216], "float32">');
    expect(shown[shown.length - 1]).toBe('linear Tensor<readonly ["N", 10], "float32">');
  });
});
