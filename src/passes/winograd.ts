/**
 * Winograd convolutions, a pass for onnxruntime's CPU provider: each eligible convolution becomes
 * Winograd's minimal filtering algorithm F(m×m, r×r) (src/graph/winograd.ts) in standard ONNX ops.
 * It applies to forward convolutions and to the backward's dX convolutions alike (a stride-1
 * convolution's dX is one), where all of these hold: 2-D, a 3×3 or 5×5 kernel, stride 1,
 * dilation 1, one group, explicit pads, static channels and spatial dims, and at least
 * `MIN_CHANNELS` input and output channels. It guarantees the same outputs up to float32 rounding
 * (the transforms' coefficients scale the rounding error; test/lower-winograd.test.ts bounds it),
 * and that a convolution whose transforms would exceed `sliceBytes` at `batch` runs in slices of
 * the batch, one after another, so the step's peak memory stays where it was. It rewrites what a
 * CPU session runs, never the exported model.
 *
 * F(m×m, r×r) computes each m×m output tile from an α×α input tile (α = m + r − 1) with α²
 * multiplications per (input channel, output channel) pair instead of m²r²:
 * Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A. Summed over input channels, the ⊙ becomes one matrix product
 * per tile position (α² of them):
 *
 *   V = Bᵀ d B for every α×α tile (stride m) of every (channel, image) plane: one Conv3D over the
 *       planes stacked as depth, with the α² kernels Bᵀ[a] ⊗ Bᵀ[b]; its output [α², C, N·T·T] is
 *       the products' layout, with no transpose;
 *   U = G g Gᵀ for every filter, from the weights in the graph (inputs of a training step);
 *   M = U · V: α² products [K, C] × [C, N·T·T];
 *   Y = (Aᵀ ⊗ Aᵀ) M, the tiles put back in place by two transposes; overhanging tiles are cropped.
 *
 * The tile is the one with the fewest multiplications for the output size (chooseTile).
 */
import type { GraphBuilder, Graph, Node } from "../graph/ir";
import type { GradientOptions } from "../graph/op";
import { DTYPE_CODE, makeTensor, type TensorType, type Value } from "../graph/types";
import { batchSlices, chooseTile, KERNELS, kron, MIN_CHANNELS, SLICE_BYTES, winogradTransforms } from "../graph/winograd";
import { isOnnx, staticDims } from "./graph-index";
import { rewriteNodes } from "./rewrite";
import { named, type Pass } from "./run";

export interface WinogradOptions {
  /** The output tile m of F(m×m, r×r) for every convolution (default: chooseTile). */
  readonly tile?: number;
  /**
   * The batch the graph will run at, and the most bytes one convolution's transforms may take at
   * once: a convolution whose transforms would take more at that batch runs in slices of the batch,
   * one after another (without `batch`, in one piece).
   */
  readonly batch?: number;
  readonly sliceBytes?: number;
}

/**
 * The gradient formulations of a step built for the CPU: with Winograd's convolutions, the weight
 * gradients take its form too (ops/conv-weight-grad-winograd.ts), sliced for `batch`.
 */
export function cpuStepGradients(opts: { readonly winograd: boolean; readonly batch?: number }): GradientOptions {
  return opts.winograd ? { convWeightGrad: "winograd", batch: opts.batch } : {};
}

export const winograd = (opts: WinogradOptions = {}): Pass =>
  named("winograd", (g) =>
    rewriteNodes(g, (b, n) => {
      const plan = isOnnx(n, "Conv") ? planConv(n, opts) : undefined;
      if (plan) lowerConv(b, n, plan);
      return plan !== undefined;
    }),
  );

/** How many convolutions of `g` the pass rewrote: each has one filter transform (its Gemm). */
export function winogradConvCount(g: Graph): number {
  return g.nodes.filter((n) => n.op === "Gemm" && n.name.endsWith("/winograd/Gemm_u_flat")).length;
}

type Plan = NonNullable<ReturnType<typeof planConv>>;

function lowerConv(b: GraphBuilder, n: Node, plan: Plan): void {
  const { m, r, cin, cout, pads, tiles, crop } = plan;
  const alpha = m + r - 1;
  const a2 = alpha * alpha;
  const [th, tw] = tiles;
  const { BT, G, AT: At } = winogradTransforms(m, r);
  const constant = (key: string, dims: number[], values: number[]) => b.value(`winograd/${key}`) ?? b.initializer(makeTensor(`winograd/${key}`, "float32", dims, values));
  const inputTransform = constant(`F${m}x${r}/BT_x_BT`, [a2, 1, 1, alpha, alpha], kron(BT, BT).flat());
  const filterTransform = constant(`F${m}x${r}/G_x_G`, [a2, r * r], kron(G, G).flat());
  const outputTransform = constant(`F${m}x${r}/AT_x_AT`, [m * m, a2], kron(At, At).flat());
  const [x, w, bias] = n.inputs as Value[];
  const y = n.outputs[0];
  const at = (suffix: string) => `${n.name}/winograd/${suffix}`;
  const ints = (values: number[]) => b.ints(values);
  /** One node named by its output; the pass's last node writes the convolution's own output. */
  const node = (op: string, inputs: Value[], output: string, attrs: Record<string, number | number[]> = {}): Value =>
    b.op1(op, inputs, attrs, { name: at(`${op}_${output === y.name ? "y" : output}`), outputNames: [output === y.name ? y.name : at(output)] });
  /** Min and Max, which alexc's registry leaves out, of int64 batch indices. */
  const minMax = (op: "Min" | "Max", p: Value, q: Value, output: string): Value =>
    b.external(op, [p, q], { outputs: [{ dtype: "int64", shape: p.shape } as TensorType] }, { name: at(`${op}_${output}`), outputNames: [at(output)] })[0];

  // U: [α², K, C] = (G ⊗ G) · wᵀ, from the weights in the graph (Gemm reads w transposed in place).
  const wFlat = node("Reshape", [w, ints([cout * cin, r * r])], "w_flat");
  const u = node("Reshape", [node("Gemm", [filterTransform, wFlat], "u_flat", { transB: 1 }), ints([a2, cout, cin])], "u");

  /** The convolution of a batch `xs` (without bias), as [N, K, m·th, m·tw], named `output` if given. */
  const convolve = (xs: Value, tag: string, output?: string): Value => {
    const t = (s: string) => `${s}${tag}`;
    // V: [α², C, N·th·tw], the planes ordered channel-major so that no transpose follows the Conv3D.
    const planes = node("Reshape", [node("Transpose", [xs], t("x_cn"), { perm: [1, 0, 2, 3] }), ints([1, 1, -1, plan.h, plan.w])], t("planes"));
    const v5 = node("Conv", [planes, inputTransform], t("v5"), { strides: [1, m, m], pads: [0, pads[0], pads[1], 0, pads[2], pads[3]] });
    const mm = node("MatMul", [u, node("Reshape", [v5, ints([a2, cin, -1])], t("v"))], t("m"));
    // Y: [m·m, K·N·th·tw] → [m(a), K·N·th·tw, m(b)] → [K·N, th, m(a), tw·m(b)] → [N, K, m·th, m·tw].
    // Two transposes that each move one axis: onnxruntime copies those in runs, unlike one 5-D
    // transpose that interleaves both tile axes at once (docs/performance.md).
    const tilesOut = node("MatMul", [outputTransform, node("Reshape", [mm, ints([a2, -1])], t("m_flat"))], t("y_tiles"));
    const yb = node("Transpose", [node("Reshape", [tilesOut, ints([m, m, -1])], t("y_ab"))], t("y_a_b"), { perm: [0, 2, 1] });
    const ya = node("Transpose", [node("Reshape", [yb, ints([m, -1, th, tw * m])], t("y_a"))], t("y_kn_tiles"), { perm: [1, 2, 0, 3] });
    return node("Transpose", [node("Reshape", [ya, ints([cout, -1, m * th, m * tw])], t("y_kn"))], output ?? t("y_nk"), { perm: [1, 0, 2, 3] });
  };

  let out: Value;
  if (plan.slices === 1) {
    out = convolve(x, "", crop || bias ? undefined : y.name);
    if (crop) out = node("Slice", [out, ints([0, 0]), ints(crop), ints([2, 3])], bias ? "y_crop" : y.name);
  } else {
    // The batch in k slices of ⌈N/k⌉ images, one after another: each slice's start adds
    // x > x (false, 0) of the previous slice's first output element, so onnxruntime runs the
    // slices in order and frees one slice's transforms before the next. onnxruntime's Conv
    // takes no empty batch: a slice past the end (N < k, or N = 5 in 4 slices of 2) computes the
    // last image again, and the joined output is cut back to N images.
    const batch = node("Slice", [node("Shape", [x], "x_shape"), ints([0]), ints([1])], "batch");
    const k = plan.slices;
    const size = node("Div", [node("Add", [batch, ints([k - 1])], "batch_up"), ints([k])], "slice_size");
    const lastImage = node("Sub", [batch, ints([1])], "last_image");
    const parts: Value[] = [];
    let after: Value | undefined;
    for (let i = 0; i < k; i++) {
      const clamped = i === 0 ? ints([0]) : minMax("Min", node("Mul", [size, ints([i])], `start_${i}_full`), lastImage, `start_${i}_clamped`);
      const cut = minMax("Min", node("Mul", [size, ints([i + 1])], `end_${i}_full`), batch, `end_${i}_cut`);
      const end = minMax("Max", cut, node("Add", [clamped, ints([1])], `end_${i}_least`), `end_${i}`);
      // `after` is 0, computed from the previous slice's output: this slice cannot start before it exists.
      const start = after ? node("Add", [clamped, after], `start_${i}`) : clamped;
      const yi = convolve(node("Slice", [x, start, end, ints([0])], `x_${i}`), `_${i}`);
      parts.push(yi);
      if (i < k - 1) {
        const first = node("Slice", [node("Reshape", [yi, ints([-1])], `y_${i}_flat`), ints([0]), ints([1])], `y_${i}_first`);
        const never = node("Cast", [node("Greater", [first, first], `y_${i}_never`)], `y_${i}_zero`, { to: DTYPE_CODE.int64 });
        after = node("ReduceSum", [never], `y_${i}_done`, { keepdims: 1 });
      }
    }
    const joined = node("Concat", parts, "y_joined", { axis: 0 });
    // Cut back to N images, and to the output's height and width where tiles overhang it.
    const ends = crop ? node("Concat", [batch, ints(crop)], "y_ends", { axis: 0 }) : batch;
    out = node("Slice", [joined, ints(crop ? [0, 0, 0] : [0]), ends, ints(crop ? [0, 2, 3] : [0])], bias ? "y_cut" : y.name);
  }
  if (bias) node("Add", [out, node("Reshape", [bias, ints([1, cout, 1, 1])], "bias4")], y.name);
}

function planConv(n: Node, opts: WinogradOptions) {
  const ones = (name: string) => ((n.attrs[name] as number[] | undefined) ?? []).every((v) => v === 1);
  const group = n.attrs.group as number | undefined;
  if ((group !== undefined && group !== 1) || !ones("strides") || !ones("dilations")) return undefined;
  const autoPad = n.attrs.auto_pad as string | undefined;
  if (autoPad !== undefined && autoPad !== "NOTSET") return undefined;
  const [x, w] = n.inputs;
  if (!x || !w) return undefined;
  const wd = staticDims(w);
  const xd = staticDims(x);
  if (wd.length !== 4 || wd.some((d) => d === undefined) || xd.length !== 4 || xd.slice(1).some((d) => d === undefined)) return undefined;
  const [cout, cin, r, kw] = wd as number[];
  const [, c, h, wdt] = xd as number[];
  if (!KERNELS.includes(r) || kw !== r || c !== cin || cin < MIN_CHANNELS || cout < MIN_CHANNELS) return undefined;
  const [pt, pl, pb, pr] = (n.attrs.pads as number[] | undefined) ?? [0, 0, 0, 0];
  const ho = h + pt + pb - (r - 1);
  const wo = wdt + pl + pr - (r - 1);
  if (ho < 1 || wo < 1) return undefined;
  const m = opts.tile ?? chooseTile(r, ho, wo);
  const tiles = [Math.ceil(ho / m), Math.ceil(wo / m)];
  // The far pads grow until the last tile is whole; the extra outputs are cropped.
  const pads = [pt, pl, tiles[0] * m + r - 1 - h - pt, tiles[1] * m + r - 1 - wdt - pl];
  const crop = tiles[0] * m !== ho || tiles[1] * m !== wo ? [ho, wo] : undefined;
  // Per image: V and the Conv3D's im2col (α² per tile and input channel), M (per output channel)
  // and the output tiles (m² per tile and output channel), float32.
  const alpha = m + r - 1;
  const perImage = 4 * tiles[0] * tiles[1] * (alpha * alpha * (2 * cin + cout) + m * m * cout);
  const slices = batchSlices(opts.batch, perImage, opts.sliceBytes ?? SLICE_BYTES);
  return { slices, m, r, cin, cout, h, w: wdt, pads, tiles, crop };
}
