/**
 * Type-level shapes: the DSL's build-time shape rules, evaluated by the TypeScript checker so
 * that `tsc --noEmit` (and the editor) reports a model's shape errors at the line that makes
 * the layer, and hovering a layer's result shows its shape, e.g. `Tensor<readonly ["N", 96, 55, 55], "float32">`.
 *
 * Dims are literal types: number literals for known sizes, string literals for symbols ("N").
 * Sizes are computed with schoolbook decimal arithmetic on digit tuples (see "Natural numbers"
 * below), so 256·6·6 = 9216 or 4096·9217 = 37752832 cost a few dozen small instantiations,
 * where tuple-length arithmetic would build tuples of that length (and stop near 1000). Whenever a value cannot be known statically (a `number` dim, an option
 * held in a variable, a union) the result degrades to `number` (or `string` for a symbolic
 * dim) and nothing is reported: the build-time rules in ops/ stay the source of truth, and the
 * test/shape-types.test.ts sweep checks that both agree.
 *
 * Nothing here exists at run time: the file holds types only.
 */
import type { Tensor } from "./dsl";
import type { Dim } from "./types";

/** A shape as a type: a readonly tuple of literal dims when known, e.g. `readonly ["N", 1, 28, 28]`. */
export type Shape = readonly Dim[];

/** The shape type of a tensor type: `ShapeOf<typeof y>` is e.g. `readonly ["N", 9216]`. */
export type ShapeOf<T> = T extends Tensor<infer S> ? S : never;

declare const shapeErrorBrand: unique symbol;

/**
 * The type a layer argument takes when the layer breaks a shape rule. No value has this type,
 * so the call fails to type-check and tsc prints the message, e.g.
 * `Argument of type '{ kernel: 5; }' is not assignable to parameter of type
 * 'ShapeError<"conv2d: kernel 5 is larger than the padded input height 3+2*0=3">'`.
 */
export interface ShapeError<Message extends string> {
  readonly [shapeErrorBrand]: Message;
}

// ---------------------------------------------------------------------------------------------
// Natural numbers: little-endian decimal digit tuples, 9216 ↦ [6, 1, 2, 9], zero ↦ [].
// Single-digit steps are lookups in the tables below; multi-digit operations walk the digits
// (tail-recursively), so their cost grows with the number of digits, not with the values.
// A number literal type becomes digits through its decimal text (`${N}`), and back the same way.
// ---------------------------------------------------------------------------------------------

type Digit = 0 | 1 | 2 | 3 | 4 | 5 | 6 | 7 | 8 | 9;
type Nat = Digit[];

type CharToDigit = { "0": 0; "1": 1; "2": 2; "3": 3; "4": 4; "5": 5; "6": 6; "7": 7; "8": 8; "9": 9 };
type DigitChar = keyof CharToDigit;

/** a + b (0..18) for digits a, b; ProductTable: a·b (0..81). */
type SumTable = [
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [1, 2, 3, 4, 5, 6, 7, 8, 9, 10],
  [2, 3, 4, 5, 6, 7, 8, 9, 10, 11],
  [3, 4, 5, 6, 7, 8, 9, 10, 11, 12],
  [4, 5, 6, 7, 8, 9, 10, 11, 12, 13],
  [5, 6, 7, 8, 9, 10, 11, 12, 13, 14],
  [6, 7, 8, 9, 10, 11, 12, 13, 14, 15],
  [7, 8, 9, 10, 11, 12, 13, 14, 15, 16],
  [8, 9, 10, 11, 12, 13, 14, 15, 16, 17],
  [9, 10, 11, 12, 13, 14, 15, 16, 17, 18],
];
type ProductTable = [
  [0, 0, 0, 0, 0, 0, 0, 0, 0, 0],
  [0, 1, 2, 3, 4, 5, 6, 7, 8, 9],
  [0, 2, 4, 6, 8, 10, 12, 14, 16, 18],
  [0, 3, 6, 9, 12, 15, 18, 21, 24, 27],
  [0, 4, 8, 12, 16, 20, 24, 28, 32, 36],
  [0, 5, 10, 15, 20, 25, 30, 35, 40, 45],
  [0, 6, 12, 18, 24, 30, 36, 42, 48, 54],
  [0, 7, 14, 21, 28, 35, 42, 49, 56, 63],
  [0, 8, 16, 24, 32, 40, 48, 56, 64, 72],
  [0, 9, 18, 27, 36, 45, 54, 63, 72, 81],
];
/** (a − b) mod 10 for digits a, b; the subtraction borrows when a < b. */
type DiffTable = [
  [0, 9, 8, 7, 6, 5, 4, 3, 2, 1],
  [1, 0, 9, 8, 7, 6, 5, 4, 3, 2],
  [2, 1, 0, 9, 8, 7, 6, 5, 4, 3],
  [3, 2, 1, 0, 9, 8, 7, 6, 5, 4],
  [4, 3, 2, 1, 0, 9, 8, 7, 6, 5],
  [5, 4, 3, 2, 1, 0, 9, 8, 7, 6],
  [6, 5, 4, 3, 2, 1, 0, 9, 8, 7],
  [7, 6, 5, 4, 3, 2, 1, 0, 9, 8],
  [8, 7, 6, 5, 4, 3, 2, 1, 0, 9],
  [9, 8, 7, 6, 5, 4, 3, 2, 1, 0],
];
/** a < b for digits, by position in "0123456789". */
type DigitLess<A extends Digit, B extends Digit> = A extends B ? false : "0123456789" extends `${string}${A}${string}${B}${string}` ? true : false;

/** [units, tens] of a number below 100, read off its decimal text. */
type SplitTens<N extends number> = `${N}` extends `${infer T extends DigitChar}${infer U extends DigitChar}`
  ? [CharToDigit[U], CharToDigit[T]]
  : `${N}` extends DigitChar ? [CharToDigit[`${N}`], 0] : never;

/** a + b + carry as [digit, carry]; the carry in is 0 or 1. */
type DigitSum<A extends Digit, B extends Digit, C> = C extends 0 ? SplitTens<SumTable[A][B]> : SplitTens<SumTable[A][B]> extends [infer D extends Digit, infer T extends Digit] ? (D extends 9 ? [0, 1] : [SumTable[D][1], T]) : never;
/** a·b + carry as [digit, carry]; the carry in is a digit. */
type DigitProduct<A extends Digit, B extends Digit, C extends Digit> =
  SplitTens<ProductTable[A][B]> extends [infer U extends Digit, infer T extends Digit]
    ? SplitTens<SumTable[U][C]> extends [infer D extends Digit, infer T2 extends Digit] ? [D, SumTable[T][T2]] : never
    : never;
/** a − b − borrow as [digit, borrow]; the borrow in is 0 or 1. */
type DigitDiff<A extends Digit, B extends Digit, C> = C extends 0
  ? [DiffTable[A][B], DigitLess<A, B> extends true ? 1 : 0]
  : DiffTable[A][B] extends infer D extends Digit ? [DiffTable[D][1], DigitLess<A, B> extends true ? 1 : D extends 0 ? 1 : 0] : never;

type Head<A> = A extends [infer H extends Digit, ...unknown[]] ? H : 0;
type Tail<A> = A extends [unknown, ...infer T] ? T : [];

/** Drops most-significant zeros. */
type Trim<A> = A extends [...infer R, 0] ? Trim<R> : A;

type NatAdd<A, B, C = 0, Out extends unknown[] = []> =
  [A, B] extends [[], []]
    ? C extends 0 ? Out : [...Out, C]
    : DigitSum<Head<A>, Head<B>, C> extends [infer D, infer C2]
      ? NatAdd<Tail<A>, Tail<B>, C2, [...Out, D]>
      : never;

/** A − B for A ≥ B. */
type NatSub<A, B, C = 0, Out extends unknown[] = []> =
  A extends []
    ? Trim<Out>
    : DigitDiff<Head<A>, Head<B>, C> extends [infer D, infer C2]
      ? NatSub<Tail<A>, Tail<B>, C2, [...Out, D]>
      : never;

type NatMulDigit<A, B extends Digit, C extends Digit = 0, Out extends unknown[] = []> =
  A extends [infer H extends Digit, ...infer T]
    ? DigitProduct<H, B, C> extends [infer D, infer C2 extends Digit]
      ? NatMulDigit<T, B, C2, [...Out, D]>
      : never
    : C extends 0 ? Out : [...Out, C];

/** Schoolbook multiplication: Σ A·b_i·10^i. */
type NatMul<A, B, Shift extends unknown[] = [], Acc = []> =
  B extends [infer H extends Digit, ...infer T]
    ? NatMul<A, T, [...Shift, 0], H extends 0 ? Acc : NatAdd<Acc, [...Shift, ...NatMulDigit<A, H>]>>
    : Trim<Acc>;

/** "lt" | "eq" | "gt": the longer number is larger, else the first differing digit from the top decides. */
type NatCompare<A, B> = A extends unknown[]
  ? B extends unknown[] ? (A["length"] extends B["length"] ? CompareDigits<A, B> : LengthLess<A, B> extends true ? "lt" : "gt") : never
  : never;
type LengthLess<A extends unknown[], B extends unknown[]> = B extends [...{ [K in keyof A]: unknown }, unknown, ...unknown[]] ? true : false;
type CompareDigits<A, B> =
  A extends [...infer AR, infer AH extends Digit]
    ? B extends [...infer BR, infer BH extends Digit]
      ? AH extends BH ? CompareDigits<AR, BR> : DigitLess<AH, BH> extends true ? "lt" : "gt"
      : "gt"
    : B extends [] ? "eq" : "lt";

/** One long-division step: how many times B goes into R (R < 10·B), and what is left. */
type DivStep<R, B, Q extends unknown[] = []> = NatCompare<R, B> extends "lt" ? [Q["length"], R] : DivStep<NatSub<R, B>, B, [...Q, 0]>;

/** [⌊A/B⌋, A mod B] for B > 0, by long division from the most significant digit. */
type NatDivMod<A, B, Q extends unknown[] = [], R extends unknown[] = []> =
  A extends [...infer AR, infer AH]
    ? DivStep<Trim<[AH, ...R]>, B> extends [infer QD, infer R2 extends unknown[]]
      ? NatDivMod<AR, B, [QD, ...Q], R2>
      : never
    : [Trim<Q>, R];

// ---- conversions between number literal types and digit tuples ----

type IsAny<T> = 0 extends 1 & T ? true : false;
type IsUnion<T, U = T> = T extends unknown ? ([U] extends [T] ? false : true) : never;

type ParseNat<S extends string, Acc extends unknown[] = []> =
  S extends `${infer C extends DigitChar}${infer Rest}` ? ParseNat<Rest, [CharToDigit[C], ...Acc]>
  : S extends "" ? Trim<Acc>
  : false;

/** The digits of a single non-negative integer literal type; false for anything else (`number`, 2.5, -1, unions, 1e21). */
type NatOf<N> =
  IsAny<N> extends true ? false
  : [N] extends [number] ? (number extends N ? false : true extends IsUnion<N> ? false : `${N}` extends "" ? false : ParseNat<`${N}`>)
  : false;

type JoinNat<A, S extends string = ""> = A extends [infer H extends Digit, ...infer T] ? JoinNat<T, `${H}${S}`> : S;

/** Back to a number literal type; `number` when the text is not one TypeScript keeps exactly (past 2^53). */
type NumOf<A> = (A extends [] ? "0" : JoinNat<A>) extends `${infer N extends number}` ? N : number;

// ---- arithmetic on number literal types: `number` unless every operand is a natural literal ----

export type Add<A, B> = [NatOf<A>, NatOf<B>] extends [infer X extends Nat, infer Y extends Nat] ? NumOf<NatAdd<X, Y>> : number;
export type Mul<A, B> = [NatOf<A>, NatOf<B>] extends [infer X extends Nat, infer Y extends Nat] ? NumOf<NatMul<X, Y>> : number;
/** A − B; `number` when the difference would be negative. */
export type Sub<A, B> = [NatOf<A>, NatOf<B>] extends [infer X extends Nat, infer Y extends Nat]
  ? NatCompare<X, Y> extends "lt" ? number : NumOf<NatSub<X, Y>>
  : number;
/** ⌊A/B⌋; `number` for B = 0. */
export type FloorDiv<A, B> = [NatOf<A>, NatOf<B>] extends [infer X extends Nat, infer Y extends [Digit, ...Nat]]
  ? NatDivMod<X, Y> extends [infer Q, unknown] ? NumOf<Q> : never
  : number;
/** The ordering of two natural literals: "lt" | "eq" | "gt", or `undefined` when either is not one. */
export type Compare<A, B> = [NatOf<A>, NatOf<B>] extends [infer X extends Nat, infer Y extends Nat] ? NatCompare<X, Y> : undefined;

// ---------------------------------------------------------------------------------------------
// Dims and shapes
// ---------------------------------------------------------------------------------------------

/** A dim as messages print it (formatShape's text): 96, N; `number`/`string` when not a literal. */
type Show<D> =
  IsAny<D> extends true ? "any"
  : true extends IsUnion<D> ? "Dim"
  : [D] extends [number] ? (number extends D ? "number" : `${D}`)
  : [D] extends [string] ? (string extends D ? "string" : D)
  : "?";
type JoinDims<S, Out extends string = ""> = S extends readonly [infer H, ...infer T]
  ? JoinDims<T, Out extends "" ? Show<H> : `${Out},${Show<H>}`>
  : Out;
/** A shape as formatShape prints it: [N,256,6,6]. */
type FormatShape<S extends Shape> = number extends S["length"] ? "[...]" : `[${JoinDims<S>}]`;

/** A dim of unknown value that is (when S's elements are) a number, a symbol, or either. */
type Unknown<D> = IsAny<D> extends true ? Dim : [D] extends [number] ? number : [D] extends [string] ? string : Dim;

/** What a layer computes: the output shape, and the rule it breaks (never when none). */
type Result<S, E extends string = never> = [S, E];
/** A layer that breaks a rule: its output degrades to Shape, so the chain reports one error only. */
type Fail<E extends string> = Result<Shape, E>;
/** A failed step inside a layer (one window axis), holding its message. */
interface Failed<E extends string> {
  readonly failed: E;
}

/** `opts.key ?? Default` as a type: Default when absent, the union of both when it may be absent. */
type Opt<O, K extends string, Default> = K extends keyof O
  ? O[K] extends undefined ? Default : undefined extends O[K] ? Exclude<O[K], undefined> | Default : O[K]
  : Default;

/** Axis I of a number-or-[h, w] option. */
type PairAt<P, I extends 0 | 1> = P extends readonly [infer H, infer W] ? (I extends 0 ? H : W) : P;

// ---------------------------------------------------------------------------------------------
// The sliding window (ops/window.ts): out = ⌊(H + 2p − (d·(k−1) + 1)) / s⌋ + 1, or ⌈…⌉ + 1 in ceil mode
// less a last window that would start in the right padding ((out − 1)·s ≥ H + p)
// ---------------------------------------------------------------------------------------------

/**
 * One spatial axis of a window op: the output size, or Failed with windowOutput's message when
 * the (dilated) kernel is larger than the padded input. `number` when any input is not a known
 * natural number, `string` for a symbolic size (build time names it `<node>_height`).
 */
export type WindowSize<Op extends string, Axis extends string, Size, K, S, P, D, Ceil> =
  IsAny<Size> extends true ? Dim
  : [Size] extends [string] ? string
  : [Size] extends [number]
    ? [NatOf<Size>, NatOf<K>, NatOf<S>, NatOf<P>, NatOf<D>] extends [infer H, infer KN extends [Digit, ...Digit[]], infer SN extends [Digit, ...Digit[]], infer PN, infer DN]
      ? H extends false ? number
        : PN extends false ? number
        : DN extends false ? number
        : [Ceil] extends [boolean | undefined] ? (boolean extends Ceil ? number : WindowFit<Op, Axis, Size, K, P, D, H, KN, SN, PN, DN, Ceil extends true ? true : false>)
        : number
      : number
    : Dim;

type WindowFit<Op extends string, Axis extends string, Size, K, P, D, H, KN, SN, PN, DN, Ceil extends boolean> =
  NatAdd<NatMul<DN, NatSub<KN, [1]>>, [1]> extends infer Span
    ? NatAdd<H, NatAdd<PN, PN>> extends infer Padded
      ? NatCompare<Span, Padded> extends "gt"
        ? Failed<`${Op}: ${DN extends [1] ? `kernel ${Show<K>}` : `dilated kernel ${NumOf<Span>} (${Show<K>} with dilation ${Show<D>})`} is larger than the padded input ${Axis} ${Show<Size>}+2*${Show<P>}=${NumOf<Padded>}`>
        : NatSub<Padded, Span> extends infer Room
          ? NatDivMod<Ceil extends true ? NatSub<NatAdd<Room, SN>, [1]> : Room, SN> extends [infer Q, unknown]
            ? Ceil extends true
              ? NatCompare<NatMul<Q, SN>, NatAdd<H, PN>> extends "lt"
                ? NumOf<NatAdd<Q, [1]>>
                : NumOf<Q> // the last window would start in the right padding: dropped, as at build time
              : NumOf<NatAdd<Q, [1]>>
            : never
          : never
      : never
    : never;

/** Both spatial axes of a 2-d window op on [n, c, h, w]: [out shape, error]. */
type Window2d<Op extends string, N, C, H, W, K, S, P, D, Ceil> =
  WindowSize<Op, "height", H, PairAt<K, 0>, PairAt<S, 0>, PairAt<P, 0>, PairAt<D, 0>, Ceil> extends infer HO
    ? HO extends Failed<infer E> ? Fail<E>
      : WindowSize<Op, "width", W, PairAt<K, 1>, PairAt<S, 1>, PairAt<P, 1>, PairAt<D, 1>, Ceil> extends infer WO
        ? WO extends Failed<infer E> ? Fail<E> : Result<readonly [N, C, HO & Dim, WO & Dim]>
        : never
    : never;

/** A known rank: the tuple's length when fixed, else undefined. */
type RankOf<S extends Shape> = number extends S["length"] ? undefined : S["length"];

/** Equal single natural literals? undefined when either is not one. */
type SameNat<A, B> = Compare<A, B> extends infer R ? (R extends undefined ? undefined : R extends "eq" ? true : false) : never;

// ---------------------------------------------------------------------------------------------
// Layers (dsl.ts), each a Result: conv2d, maxPool2d/avgPool2d, flatten, linear
// ---------------------------------------------------------------------------------------------

/** Tensor.conv2d(outChannels, opts) on X (ops/conv.ts + the DSL's inChannels check). */
export type Conv2dResult<X extends Shape, O, Opts> =
  IsAny<X> extends true ? Result<readonly [Dim, O, Dim, Dim]>
  : RankOf<X> extends undefined
    ? Result<readonly [X[number], O, Unknown<X[number]>, Unknown<X[number]>]>
    : X extends readonly [infer N, infer C, infer H, infer W]
      ? Opt<Opts, "inChannels", undefined> extends infer Cin
        ? [Cin] extends [undefined] & ([C] extends [string] ? unknown : never)
          ? Fail<`conv2d: input channels must be known (got ${Show<C>})`>
          : SameNat<C, Cin> extends false
            ? Fail<`conv2d: input has ${Show<C>} channels, inChannels says ${Show<Cin>}`>
            : Window2d<"conv2d", N, O, H, W, Opt<Opts, "kernel", number>, Opt<Opts, "stride", 1>, Opt<Opts, "padding", 0>, Opt<Opts, "dilation", 1>, false>
        : never
      : Fail<`conv2d: input must be [N, C, H, W], got ${FormatShape<X>}`>;

/** Tensor.maxPool2d / avgPool2d(kernel, opts) on X (ops/pool.ts; the stride defaults to the kernel). */
export type Pool2dResult<Op extends string, X extends Shape, K, Opts> =
  IsAny<X> extends true ? Result<readonly [Dim, Dim, Dim, Dim]>
  : RankOf<X> extends undefined
    ? Result<readonly [X[number], X[number], Unknown<X[number]>, Unknown<X[number]>]>
    : X extends readonly [infer N, infer C, infer H, infer W]
      ? Window2d<Op, N, C, H, W, K, Opt<Opts, "stride", K>, Opt<Opts, "padding", 0>, 1, Opt<Opts, "ceilMode", false>>
      : Fail<`${Op}: input must be [N, C, H, W], got ${FormatShape<X>}`>;

/** The product of dims (types.ts dimProduct): a literal, `number`, or `string` when a dim is symbolic. */
export type DimProduct<S extends Shape> =
  IsAny<S> extends true ? Dim
  : RankOf<S> extends undefined ? Unknown<S[number]>
  : [Extract<S[number], string>] extends [never] ? ProductOf<S, [1]>
  : true extends { [I in keyof S]: [S[I]] extends [string] ? true : false }[number] ? string
  : Dim;
type ProductOf<S, Acc> = S extends readonly [infer H, ...infer T]
  ? NatOf<H> extends infer HN ? (HN extends false ? number : ProductOf<T, NatMul<Acc, HN>>) : never
  : NumOf<Acc>;

/** Tensor.flatten() on X: [batch, product of the rest] (ops/layout.ts Flatten with axis 1). */
export type FlattenResult<X extends Shape> =
  IsAny<X> extends true ? Result<readonly [Dim, Dim]>
  : RankOf<X> extends undefined ? Result<readonly [X[number], Unknown<X[number]>]>
  : X extends readonly [infer N, ...infer Rest extends Shape] ? Result<readonly [N, DimProduct<Rest>]>
  : Fail<`flatten: input has rank 0, nothing to flatten`>;

/** The start of linear's inFeatures message: that error goes on the options argument, the others on outFeatures. */
export type LinearMismatch = "linear: input has ";

/** Tensor.linear(outFeatures, opts) on X (ops/gemm.ts + the DSL's inFeatures check). */
export type LinearResult<X extends Shape, O, Opts> =
  IsAny<X> extends true ? Result<readonly [Dim, O]>
  : RankOf<X> extends undefined ? Result<readonly [X[number], O]>
  : X extends readonly [infer N, infer F]
    ? Opt<Opts, "inFeatures", undefined> extends infer Fin
      ? [Fin] extends [undefined] & ([F] extends [string] ? unknown : never)
        ? Fail<`linear: input features must be known (got ${Show<F>})`>
        : SameNat<F, Fin> extends false
          ? Fail<`${LinearMismatch}${Show<F>} features, inFeatures says ${Show<Fin>}`>
          : Result<readonly [N, O]>
      : never
    : Fail<`linear: input must be [N, features], got ${FormatShape<X>}${RankOf<X> extends 0 | 1 ? "" : " (flatten it first)"}`>;

/** Dropout's probability check (p in [0, 1)) on a literal p; any non-literal passes. */
export type DropoutError<P> =
  IsAny<P> extends true ? never
  : [P] extends [number]
    ? number extends P ? never
      : true extends IsUnion<P> ? never
      : `${P}` extends "0" | `0.${string}` | `${DigitChar}e-${string}` | `${DigitChar}.${string}e-${string}` ? never
      : `dropout: probability must be in [0, 1), got ${P}`
    : never;

/** Tensor.batchNorm2d / batchNorm1d(opts) on X (batchnorm-layer.ts): X itself, of an allowed rank and known channels. */
export type BatchNormResult<Op extends string, X extends Shape, Ranks extends number, Opts> =
  IsAny<X> extends true ? Result<Shape>
  : RankOf<X> extends undefined ? Result<X>
  : X["length"] extends Ranks
    ? X extends readonly [unknown, infer C, ...unknown[]]
      ? Opt<Opts, "numFeatures", undefined> extends infer F
        ? SameNat<C, F> extends false ? Fail<`${Op}: input has ${Show<C>} channels, numFeatures says ${Show<F>}`> : Result<X>
        : never
      : never
    : Fail<`${Op}: input must have rank ${Ranks extends 4 ? "4 ([N, C, H, W])" : "2 or 3 ([N, C(, L)])"}, got ${FormatShape<X>}`>;

/** Tensor.globalAvgPool2d() on X (ops/pool.ts GlobalAveragePool): [N, C, 1, 1]. */
export type GlobalPoolResult<X extends Shape> =
  IsAny<X> extends true ? Result<readonly [Dim, Dim, 1, 1]>
  : RankOf<X> extends undefined ? Result<readonly [X[number], X[number], 1, 1]>
  : X extends readonly [infer N, infer C, unknown, unknown] ? Result<readonly [N, C, 1, 1]>
  : Fail<`globalAvgPool2d: input must be [N, C, H, W], got ${FormatShape<X>}`>;

/** One axis of adaptiveAvgPool2d: the output size must divide the input's (a Failed message otherwise). */
type AdaptiveAxis<Axis extends string, Size, Out> =
  [NatOf<Size>, NatOf<Out>] extends [Nat, Nat]
    ? Mul<FloorDiv<Size, Out>, Out> extends Size ? Out : Failed<`adaptiveAvgPool2d: output ${Axis} ${Show<Out>} does not divide the input ${Axis} ${Show<Size>}`>
    : Out;

/** Tensor.adaptiveAvgPool2d(size) on X (an AveragePool of kernel = stride = input / output): [N, C, h, w]. */
export type AdaptivePoolResult<X extends Shape, S> =
  IsAny<X> extends true ? Result<Shape>
  : RankOf<X> extends undefined ? Result<readonly [X[number], X[number], Unknown<X[number]>, Unknown<X[number]>]>
  : X extends readonly [infer N, infer C, infer H, infer W]
    ? AdaptiveAxis<"height", H, PairAt<S, 0>> extends infer HO
      ? HO extends Failed<infer E> ? Fail<E>
        : AdaptiveAxis<"width", W, PairAt<S, 1>> extends infer WO
          ? WO extends Failed<infer E> ? Fail<E> : Result<readonly [N, C, HO & Dim, WO & Dim]>
          : never
      : never
    : Fail<`adaptiveAvgPool2d: input must be [N, C, H, W], got ${FormatShape<X>}`>;

// ---------------------------------------------------------------------------------------------
// Layers on two or more tensors: add/sub/mul/div (broadcasting), matmul, concat
// ---------------------------------------------------------------------------------------------

/** A single literal dim (a number or symbol literal), not `number`, `string`, a union or any. */
type IsLit<D> = IsAny<D> extends true ? false
  : true extends IsUnion<D> ? false
  : [D] extends [number] ? (number extends D ? false : true)
  : [D] extends [string] ? (string extends D ? false : true)
  : false;

/** Where two dims do not broadcast: the axis of the result, and both dims. */
interface Mismatch<Axis extends number, A, B> {
  readonly mismatch: [Axis, A, B];
}

/**
 * One axis of numpy broadcasting, as broadcastShapes (ops/broadcast.ts) decides it: the first
 * operand's dim unless it is 1; two different known sizes fail; a symbol never fails and wins
 * over the other dim (build time keeps the first non-1 dim). Unknown dims degrade.
 */
type BroadcastDim<Axis extends number, A, B> =
  IsAny<A> extends true ? Dim : IsAny<B> extends true ? Dim
  : IsLit<A> extends true
    ? A extends 1 ? B
      : IsLit<B> extends true
        ? B extends 1 ? A : [A, B] extends [number, number] ? (A extends B ? A : Mismatch<Axis, A, B>) : A
        : A
    : [A] extends [string] ? A // a symbol is never 1
    : IsLit<B> extends true ? (B extends 1 ? Unknown<A> : [B] extends [number] ? B : Dim)
    : Unknown<A | B>;

/** Prepends 1s to S until it has Rank's length (Rank: a tuple as long as the longer shape). */
type PadOnes<S extends Shape, Rank extends Shape> = S["length"] extends Rank["length"] ? S : PadOnes<readonly [1, ...S], Rank>;

/** Two shapes of known rank, broadcast: the result tuple, or the first Mismatch. */
type Broadcast<X extends Shape, Y extends Shape> =
  LengthLess<[...X], [...Y]> extends true ? BroadcastZip<PadOnes<X, Y>, Y> : BroadcastZip<X, PadOnes<Y, X>>;
type BroadcastZip<X, Y, Out extends Dim[] = []> =
  X extends readonly [infer A, ...infer XR]
    ? Y extends readonly [infer B, ...infer YR]
      ? BroadcastDim<Out["length"], A, B> extends infer D
        ? [D] extends [Mismatch<number, unknown, unknown>] ? D : BroadcastZip<XR, YR, [...Out, D & Dim]>
        : never
      : never
    : readonly [...Out];

/** The message broadcastShapes gives (`What` names the shapes), prefixed by the layer. */
type BroadcastMessage<Op extends string, What extends string, M> =
  M extends Mismatch<infer Axis, infer A, infer B> ? `${Op}: ${What} do not broadcast (axis ${Axis}: ${Show<A>} vs ${Show<B>})` : never;

/** The shape of a binary layer's right operand: a tensor's, or [] for a number (a scalar constant). */
export type OperandShape<O> = O extends number ? readonly [] : ShapeOf<O>;

/** x.add(y) and friends (ops/binary.ts): numpy broadcasting of X with Y. */
export type BroadcastResult<Op extends string, X extends Shape, Y extends Shape> =
  IsAny<X> extends true ? Result<Shape>
  : IsAny<Y> extends true ? Result<Shape>
  : RankOf<X> extends undefined ? Result<Shape>
  : RankOf<Y> extends undefined ? Result<Shape>
  : Broadcast<X, Y> extends infer B
    ? B extends Mismatch<number, unknown, unknown> ? Fail<BroadcastMessage<Op, `shapes ${FormatShape<X>} and ${FormatShape<Y>}`, B>> : Result<B>
    : never;

/** x.matmul(y) (ops/gemm.ts MatMul): [...a, M, K]·[...b, K, N] → [...broadcast(a, b), M, N]; rank ≥ 2. */
export type MatMulResult<X extends Shape, Y extends Shape> =
  IsAny<X> extends true ? Result<Shape>
  : IsAny<Y> extends true ? Result<Shape>
  : RankOf<X> extends undefined ? Result<Shape>
  : RankOf<Y> extends undefined ? Result<Shape>
  : [X, Y] extends [readonly [...infer XB extends Shape, infer M, infer K], readonly [...infer YB extends Shape, infer K2, infer Nn]]
    ? SameNat<K, K2> extends false
      ? Fail<`matmul: inner dimensions differ: ${FormatShape<X>} · ${FormatShape<Y>} (${Show<K>} vs ${Show<K2>})`>
      : Broadcast<XB, YB> extends infer B
        ? B extends Mismatch<number, unknown, unknown>
          ? Fail<BroadcastMessage<"matmul", `batch dims of ${FormatShape<X>} and ${FormatShape<Y>}`, B>>
          : B extends Shape ? Result<readonly [...B, M & Dim, Nn & Dim]> : never
        : never
    : Fail<`matmul: operands must have rank 2 or more, got ${FormatShape<X>} and ${FormatShape<Y>}`>;

/** A concat axis in [−rank, rank) as an index, Failed when out of range, undefined when not a literal. */
type AxisIndex<A, Rank extends number> =
  NatOf<A> extends Nat
    ? Compare<A, Rank> extends "lt" ? A : Failed<`concat: axis ${Show<A>} is out of range for rank ${Rank}`>
    : `${A & number}` extends `-${infer P extends number}`
      ? NatOf<P> extends Nat
        ? Compare<P, Rank> extends "gt" ? Failed<`concat: axis ${Show<A>} is out of range for rank ${Rank}`> : Sub<Rank, P>
        : undefined
      : undefined;

/** Where S differs from F outside the concat axis (ops/layout.ts Concat's message), else never. */
type ConcatMismatch<F extends Shape, S extends Shape, Axis extends number> =
  RankOf<S> extends undefined ? never
  : S["length"] extends F["length"] ? DimsDiffer<F, S, Axis>
  : `concat: inputs ${FormatShape<F>} and ${FormatShape<S>} differ in rank (${F["length"]} vs ${S["length"]})`;
type DimsDiffer<F extends Shape, S extends Shape, Axis extends number, I extends unknown[] = []> =
  I["length"] extends F["length"] ? never
  : I["length"] extends Axis ? DimsDiffer<F, S, Axis, [...I, 0]>
  : [IsLit<F[I["length"]]>, IsLit<S[I["length"]]>] extends [true, true]
    ? F[I["length"]] extends S[I["length"]] ? DimsDiffer<F, S, Axis, [...I, 0]>
      : `concat: inputs ${FormatShape<F>} and ${FormatShape<S>} differ at axis ${I["length"]} (${Show<F[I["length"]]>} vs ${Show<S[I["length"]]>}); only the concat axis ${Axis} may differ`
    : DimsDiffer<F, S, Axis, [...I, 0]>;

/** The sum of the concat-axis dims: a literal, `string` when one is symbolic (build time makes up `<node>_<axis>`). */
type AxisSum<Ts, Axis extends number, Acc extends Nat | false = [], Seen = never> =
  Ts extends readonly [infer T, ...infer Rest]
    ? ShapeOf<T>[Axis] extends infer D
      ? IsAny<D> extends true ? Dim
        : [D] extends [string] ? string
        : AxisSum<Rest, Axis, Acc extends Nat ? (NatOf<D> extends infer DN extends Nat ? NatAdd<Acc, DN> : false) : false, Seen | D>
      : never
    : Acc extends Nat ? NumOf<Acc> : Unknown<Seen>;

/** The first mismatch of any of Ts against F. */
type FirstConcatMismatch<F extends Shape, Ts, Axis extends number> =
  Ts extends readonly [infer T, ...infer Rest]
    ? ConcatMismatch<F, ShapeOf<T>, Axis> extends infer E extends string ? ([E] extends [never] ? FirstConcatMismatch<F, Rest, Axis> : E) : never
    : never;

type ReplaceAt<S, I extends number, V, Out extends Dim[] = []> =
  S extends readonly [infer H, ...infer T] ? ReplaceAt<T, I, V, [...Out, (Out["length"] extends I ? V : H) & Dim]> : readonly [...Out];

/** concat(tensors, axis) (ops/layout.ts Concat): dims equal outside the axis, summed along it. */
export type ConcatResult<Ts, A> =
  IsAny<Ts> extends true ? Result<Shape>
  : Ts extends readonly [] ? Fail<"concat: needs at least one tensor">
  : Ts extends readonly [infer T0, ...infer Rest]
    ? ShapeOf<T0> extends infer F extends Shape
      ? IsAny<F> extends true ? Result<Shape>
        : RankOf<F> extends undefined ? Result<Shape>
        : AxisIndex<A, F["length"]> extends infer I
          ? I extends Failed<infer E> ? Fail<E>
            : I extends number
              ? FirstConcatMismatch<F, Rest, I> extends infer E extends string
                ? [E] extends [never] ? Result<ReplaceAt<F, I, AxisSum<Ts, I>>> : Fail<E>
                : never
              : Result<{ readonly [K in keyof F]: Unknown<F[K]> }> // an axis held in a variable
          : never
      : never
    : Result<Shape>;

/** The first axis where two literal dims differ, else never (unknown dims never differ). */
type FirstDiff<A extends Shape, B extends Shape, I extends unknown[] = []> =
  I["length"] extends A["length"] ? never
  : [IsLit<A[I["length"]]>, IsLit<B[I["length"]]>] extends [true, true]
    ? A[I["length"]] extends B[I["length"]] ? FirstDiff<A, B, [...I, 0]> : I["length"]
    : FirstDiff<A, B, [...I, 0]>;

/** x.residual(body, { shortcut }) (dsl.ts): the block's output and the shortcut's must have one shape, which the sum keeps. */
export type ResidualResult<Y extends Shape, Z extends Shape> =
  IsAny<Y> extends true ? Result<Shape>
  : IsAny<Z> extends true ? Result<Y>
  : RankOf<Y> extends undefined ? Result<Y>
  : RankOf<Z> extends undefined ? Result<Y>
  : Y["length"] extends Z["length"]
    ? [FirstDiff<Y, Z>] extends [never] ? Result<Y> : Fail<`residual: the block gives ${FormatShape<Y>} but the shortcut gives ${FormatShape<Z>}`>
    : Fail<`residual: the block gives ${FormatShape<Y>} but the shortcut gives ${FormatShape<Z>}`>;

// ---------------------------------------------------------------------------------------------
// What dsl.ts reads: a layer's output shape, and the type its argument must have
// ---------------------------------------------------------------------------------------------

/** The output shape of a layer Result. */
export type OutShape<R> = R extends [infer S extends Shape, unknown] ? S : Shape;
/** The argument type that carries a layer Result's error: no constraint (unknown) when it has none. */
export type Check<R> = R extends [unknown, infer E extends string] ? ([E] extends [never] ? unknown : ShapeError<E>) : unknown;
/** Check for the errors whose message starts with Prefix only (CheckUnless: all others), to split them between arguments. */
export type CheckWhen<R, Prefix extends string> = R extends [unknown, infer E extends string]
  ? [E] extends [never] ? unknown : E extends `${Prefix}${string}` ? ShapeError<E> : unknown
  : unknown;
export type CheckUnless<R, Prefix extends string> = R extends [unknown, infer E extends string]
  ? [E] extends [never] ? unknown : E extends `${Prefix}${string}` ? unknown : ShapeError<E>
  : unknown;
/**
 * Flags options the layer does not know (a generic options type would accept `strides: 2`):
 * each unknown key must have type ShapeError<"conv2d: unknown option 'strides'">.
 */
export type KnownOptions<Op extends string, Opts, Known> = [Exclude<keyof Opts, keyof Known>] extends [never]
  ? unknown
  : { readonly [K in Exclude<keyof Opts, keyof Known>]: ShapeError<`${Op}: unknown option '${K & string}'`> };

/** The argument type that carries an error message (never when none). */
export type MessageCheck<E> = [E] extends [never] ? unknown : E extends string ? ShapeError<E> : unknown;
