/**
 * A lowering pass for onnxruntime's CPU provider: 3×3 convolutions (stride 1) as Winograd's
 * minimal filtering algorithm F(4×4, 3×3), in standard ONNX ops.
 *
 * F(4×4, 3×3) computes each 4×4 output tile from a 6×6 input tile with 36 multiplications per
 * (input channel, output channel) pair instead of 144 (Lavin & Gray, "Fast Algorithms for
 * Convolutional Neural Networks", 2016): Y = Aᵀ [(G g Gᵀ) ⊙ (Bᵀ d B)] A, summed over input
 * channels. Summed over channels, the ⊙ becomes one matrix product per tile position (36 of them):
 *
 *   V = Bᵀ d B for every 6×6 tile (stride 4) of every (channel, image) plane — one Conv3D over the
 *       planes stacked as depth, with the 36 kernels Bᵀ[a] ⊗ Bᵀ[b]; its output [36, C, N·T·T] is
 *       the product's layout, with no transpose;
 *   U = G g Gᵀ for every filter, from the weights in the graph (they are inputs of a training step);
 *   M = U · V: 36 products [K, C] × [C, N·T·T];
 *   Y = (Aᵀ ⊗ Aᵀ) M, the tiles put back in place by one Reshape/Transpose pair.
 *
 * This applies to the forward convolutions and to the backward's dX convolutions alike (a 3×3
 * stride-1 convolution's dX is one). AlexNet's conv3–conv5 at batch 128 on our 2-core machine:
 * 2.0–2.4× faster than onnxruntime's own Conv (docs/performance.md). Float32 rounding differs from
 * a direct convolution: the transforms' coefficients (up to 8 in Aᵀ, 5 in Bᵀ) scale rounding errors
 * to ≈ 2e-4 of the output's largest value in the worst case measured, against ≈ 1e-6 directly; the
 * step is checked against the direct one (test/lower-winograd.test.ts).
 *
 * Like lower-cpu.ts, this rewrites the bytes handed to a CPU session, never the exported model. A
 * convolution is rewritten where all of these hold: 2-D, a 3×3 kernel, stride 1, dilation 1, one
 * group, explicit pads, static channels and spatial dims, and at least `MIN_CHANNELS` input and
 * output channels (below that the transforms cost more than the multiplications they save).
 */
import { decodeModel } from "../emit/decode";
import { encodeModel, tensorProto } from "../emit/encode";
import { onnx } from "../emit/proto";
import { makeTensor } from "../graph/types";

const AT = onnx.AttributeProto.AttributeType;

/** The kernel sizes this pass rewrites (r of F(m×m, r×r)). */
const KERNELS = [3, 5];

/**
 * The finite interpolation points for an input tile of α (∞ is the last point): small integers
 * first, then 1/2, as in Lavin & Gray. α ≤ 7 keeps float32 rounding within ≈ 3e-5 of the output's
 * largest value (measured on AlexNet's conv3–conv5 shapes).
 */
const POINTS: Readonly<Record<number, readonly number[]>> = { 4: [0, 1, -1], 5: [0, 1, -1, 2], 6: [0, 1, -1, 2, -2], 7: [0, 1, -1, 2, -2, 0.5] };
const MAX_ALPHA = 7;

/** Input channels and output channels from which a convolution is rewritten. */
export const MIN_CHANNELS = 64;

interface Transforms {
  /** Bᵀ: α×α (input tile), G: α×r (filter), Aᵀ: m×α (output tile). */
  readonly BT: number[][];
  readonly G: number[][];
  readonly AT: number[][];
}

/**
 * Bᵀ, G and Aᵀ of F(m, r) by Toom-Cook over the finite points and ∞: G and Aᵀ evaluate the filter
 * and output polynomials at the points, Bᵀ is the transposed inverse of the α×α evaluation matrix.
 * Lavin's convention for the scale: row i of Bᵀ times Π_{j≠i}(p_i − p_j), row i of G divided by it
 * (for F(4, 3) this gives the paper's matrices).
 */
export function winogradTransforms(m: number, r: number): Transforms {
  const alpha = m + r - 1;
  const points = POINTS[alpha];
  if (!points) throw new Error(`internal: no interpolation points for F(${m}, ${r})`);
  const powers = (p: number | undefined, len: number) => Array.from({ length: len }, (_, k) => (p === undefined ? (k === len - 1 ? 1 : 0) : p ** k));
  const pts: (number | undefined)[] = [...points, undefined];
  const inv = invert(pts.map((p) => powers(p, alpha)));
  const scale = pts.map((p, i) => (p === undefined ? 1 : points.reduce((acc, q, j) => (j === i ? acc : acc * (p - q)), 1)));
  return {
    BT: pts.map((_, i) => inv.map((row) => row[i] * scale[i])),
    G: pts.map((p, i) => powers(p, r).map((v) => v / scale[i])),
    AT: Array.from({ length: m }, (_, j) => pts.map((p) => powers(p, m)[j])),
  };
}

/** The inverse of a small square matrix (Gauss-Jordan, partial pivoting, float64). */
function invert(a: number[][]): number[][] {
  const n = a.length;
  const w = a.map((row, i) => [...row, ...Array.from({ length: n }, (_, j) => (i === j ? 1 : 0))]);
  for (let c = 0; c < n; c++) {
    let pivot = c;
    for (let i = c + 1; i < n; i++) if (Math.abs(w[i][c]) > Math.abs(w[pivot][c])) pivot = i;
    [w[c], w[pivot]] = [w[pivot], w[c]];
    const d = w[c][c];
    for (let j = 0; j < 2 * n; j++) w[c][j] /= d;
    for (let i = 0; i < n; i++) {
      const k = w[i][c];
      if (i !== c && k !== 0) for (let j = 0; j < 2 * n; j++) w[i][j] -= k * w[c][j];
    }
  }
  return w.map((row) => row.slice(n));
}

/** The Kronecker product of two matrices (arrays of rows). */
function kron(a: number[][], b: number[][]): number[][] {
  return a.flatMap((ra) => b.map((rb) => ra.flatMap((x) => rb.map((y) => x * y))));
}

/**
 * The output tile for an ho×wo output: the fewest multiplications, α² per tile, counting the
 * tiles that overhang the output (13×13: F(5, 3) with 9 tiles, 441 per channel pair, against
 * F(4, 3)'s 576 and a direct convolution's 1521); the smaller tile where equal (fewer rounding errors).
 */
export function chooseTile(r: number, ho: number, wo: number): number {
  const cost = (m: number) => (m + r - 1) ** 2 * Math.ceil(ho / m) * Math.ceil(wo / m);
  let best = 2;
  for (let m = 3; m + r - 1 <= MAX_ALPHA; m++) if (cost(m) < cost(best)) best = m;
  return best;
}

export interface WinogradOptions {
  /** The output tile m of F(m×m, r×r) for every convolution (default: chooseTile). */
  readonly tile?: number;
  /**
   * The batch the graph will run at, and the most bytes one convolution's transforms may take at
   * once: a convolution whose transforms would take more at that batch runs in slices of the batch,
   * one after another (without `batch`, in one piece).
   */
  readonly batch?: number;
  readonly chunkBytes?: number;
}

/**
 * The default for WinogradOptions.chunkBytes. AlexNet's step at batch 128, peak RSS: 1947 MB in
 * one piece, 1613 MB with 256 MiB, 1574 MB with 128 MiB (without Winograd: 1575 MB), 1578 MB with
 * 64 MiB, which was also slower (docs/performance.md).
 */
export const CHUNK_BYTES = 128 * 2 ** 20;

/** The model bytes with every eligible 3×3 convolution as F(m×m, 3×3); `rewritten` counts them. */
export function lowerConvsToWinograd(bytes: Uint8Array, opts: WinogradOptions = {}): { bytes: Uint8Array; rewritten: number } {
  const m = decodeModel(bytes, "model for the Winograd lowering");
  const { graph, rewritten } = lowerGraph(m.graph as onnx.IGraphProto, opts);
  return rewritten === 0 ? { bytes, rewritten } : { bytes: encodeModel({ ...m, graph }), rewritten };
}

type Dims = (number | undefined)[];

function lowerGraph(g: onnx.IGraphProto, opts: WinogradOptions): { graph: onnx.IGraphProto; rewritten: number } {
  const dims = new Map<string, Dims | undefined>();
  for (const v of [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])]) dims.set(v.name!, staticDims(v));
  for (const t of g.initializer ?? []) dims.set(t.name!, (t.dims ?? []).map(Number));

  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const added = new Set<string>();
  /** A constant of the pass, named by `key`, added once per graph. */
  const constant = (key: string, dtype: "float32" | "int64", d: number[], values: number[]) => {
    const name = `winograd/${key}`;
    if (!added.has(name)) {
      added.add(name);
      initializers.push(tensorProto(makeTensor(name, dtype, d, values)));
    }
    return name;
  };
  const ints = (values: number[]) => constant(`i64/${values.join("_")}`, "int64", [values.length], values);
  const perm = (p: number[]): onnx.IAttributeProto[] => [{ name: "perm", type: AT.INTS, ints: p }];

  let rewritten = 0;
  for (const n of g.node ?? []) {
    const plan = n.opType === "Conv" && !n.domain ? planConv(n, dims, opts) : undefined;
    if (!plan) {
      nodes.push(n);
      continue;
    }
    const { m, r, cin, cout, pads, tiles, crop } = plan;
    const alpha = m + r - 1;
    const a2 = alpha * alpha;
    const [th, tw] = tiles;
    const { BT, G, AT: At } = winogradTransforms(m, r);
    const inputTransform = constant(`F${m}x${r}/BT_x_BT`, "float32", [a2, 1, 1, alpha, alpha], kron(BT, BT).flat());
    const filterTransform = constant(`F${m}x${r}/G_x_G`, "float32", [a2, r * r], kron(G, G).flat());
    const outputTransform = constant(`F${m}x${r}/AT_x_AT`, "float32", [m * m, a2], kron(At, At).flat());
    const [x, w, bias] = n.input!;
    const y = n.output![0];
    const at = (suffix: string) => `${n.name || `conv${rewritten}`}/winograd/${suffix}`;
    const node = (op: string, input: string[], output: string, attribute: onnx.IAttributeProto[] = []) => {
      const name = output === y ? y : at(output);
      nodes.push({ name: at(`${op}_${output === y ? "y" : output}`), opType: op, input, output: [name], attribute });
      return name;
    };
    // U: [α², K, C] = (G ⊗ G) · wᵀ, from the weights in the graph (Gemm reads w transposed in place).
    const wFlat = node("Reshape", [w, ints([cout * cin, r * r])], "w_flat");
    const u = node("Reshape", [node("Gemm", [filterTransform, wFlat], "u_flat", [{ name: "transB", type: AT.INT, i: 1 }]), ints([a2, cout, cin])], "u");

    /** The convolution of a batch `xs` (without bias), as [N, K, m·th, m·tw]. */
    const convolve = (xs: string, tag: string): string => {
      const t = (s: string) => `${s}${tag}`;
      // V: [α², C, N·th·tw], the planes ordered channel-major so that no transpose follows the Conv3D.
      const planes = node("Reshape", [node("Transpose", [xs], t("x_cn"), perm([1, 0, 2, 3])), ints([1, 1, -1, plan.h, plan.w])], t("planes"));
      const v5 = node("Conv", [planes, inputTransform], t("v5"), [
        { name: "strides", type: AT.INTS, ints: [1, m, m] },
        { name: "pads", type: AT.INTS, ints: [0, pads[0], pads[1], 0, pads[2], pads[3]] },
      ]);
      const mm = node("MatMul", [u, node("Reshape", [v5, ints([a2, cin, -1])], t("v"))], t("m"));
      // Y: [m·m, K·N·th·tw] → [m(a), K·N·th·tw, m(b)] → [K·N, th, m(a), tw·m(b)] → [N, K, m·th, m·tw].
      // Two transposes that each move one axis: onnxruntime copies those in runs (one 5-D
      // transpose that interleaves both tile axes at once took 8× longer).
      const tilesOut = node("MatMul", [outputTransform, node("Reshape", [mm, ints([a2, -1])], t("m_flat"))], t("y_tiles"));
      const yb = node("Transpose", [node("Reshape", [tilesOut, ints([m, m, -1])], t("y_ab"))], t("y_a_b"), perm([0, 2, 1]));
      const ya = node("Transpose", [node("Reshape", [yb, ints([m, -1, th, tw * m])], t("y_a"))], t("y_kn_tiles"), perm([1, 2, 0, 3]));
      return node("Transpose", [node("Reshape", [ya, ints([cout, -1, m * th, m * tw])], t("y_kn"))], t("y_nk"), perm([1, 0, 2, 3]));
    };

    let out: string;
    if (plan.chunks === 1) {
      out = convolve(x, "");
      if (crop) out = node("Slice", [out, ints([0, 0]), ints(crop), ints([2, 3])], bias ? "y_crop" : y);
    } else {
      // The batch in `chunks` slices of ⌈N/k⌉ images, one after another: each slice's first input
      // waits for one element of the previous slice's output (x > x is false, so the Reshape keeps
      // the shape), and onnxruntime frees a slice's transforms before the next. onnxruntime's Conv
      // takes no empty batch: a slice past the end (N < k, or N = 5 in 4 slices of 2) computes the
      // last image again, and the joined output is cut back to N images.
      const batch = node("Slice", [node("Shape", [x], "x_shape"), ints([0]), ints([1])], "batch");
      const k = plan.chunks;
      const size = node("Div", [node("Add", [batch, ints([k - 1])], "batch_up"), ints([k])], "slice_size");
      const lastImage = node("Sub", [batch, ints([1])], "last_image");
      const parts: string[] = [];
      let after: string | undefined;
      for (let i = 0; i < k; i++) {
        const start = i === 0 ? ints([0]) : node("Min", [node("Mul", [size, ints([i])], `start_${i}_full`), lastImage], `start_${i}`);
        const end = node("Max", [node("Min", [node("Mul", [size, ints([i + 1])], `end_${i}_full`), batch], `end_${i}_cut`), node("Add", [start, ints([1])], `end_${i}_least`)], `end_${i}`);
        let xi = node("Slice", [x, start, end, ints([0])], `x_${i}`);
        if (after) xi = node("Reshape", [xi, node("Add", [node("Shape", [xi], `x_${i}_shape`), after], `x_${i}_gated_shape`)], `x_${i}_gated`);
        const yi = convolve(xi, `_${i}`);
        parts.push(yi);
        if (i < k - 1) {
          const first = node("Slice", [node("Reshape", [yi, ints([-1])], `y_${i}_flat`), ints([0]), ints([1])], `y_${i}_first`);
          const never = node("Cast", [node("Greater", [first, first], `y_${i}_never`)], `y_${i}_zero`, [{ name: "to", type: AT.INT, i: onnx.TensorProto.DataType.INT64 }]);
          after = node("ReduceSum", [never], `y_${i}_done`, [{ name: "keepdims", type: AT.INT, i: 1 }]);
        }
      }
      const joined = node("Concat", parts, "y_joined", [{ name: "axis", type: AT.INT, i: 0 }]);
      // Cut back to N images, and to the output's height and width where tiles overhang it.
      const ends = crop ? node("Concat", [batch, ints(crop)], "y_ends", [{ name: "axis", type: AT.INT, i: 0 }]) : batch;
      out = node("Slice", [joined, ints(crop ? [0, 0, 0] : [0]), ends, ints(crop ? [0, 2, 3] : [0])], bias ? "y_cut" : y);
    }
    if (bias) out = node("Add", [out, node("Reshape", [bias, ints([1, cout, 1, 1])], "bias4")], y);
    if (out !== y) nodes[nodes.length - 1].output = [y];
    rewritten++;
  }
  return { graph: { ...g, node: nodes, initializer: [...(g.initializer ?? []), ...initializers] }, rewritten };
}

/** The dims of a tensor value (undefined where symbolic), or undefined where its shape is unknown. */
function staticDims(v: onnx.IValueInfoProto): Dims | undefined {
  const d = v.type?.tensorType?.shape?.dim;
  return d ? d.map((x) => (x.dimValue === undefined || x.dimValue === null ? undefined : Number(x.dimValue))) : undefined;
}

function planConv(n: onnx.INodeProto, dims: Map<string, Dims | undefined>, opts: WinogradOptions) {
  const attr = (name: string) => (n.attribute ?? []).find((a) => a.name === name);
  const ones = (name: string) => (attr(name)?.ints ?? []).every((v) => Number(v) === 1);
  const group = attr("group");
  if ((group && Number(group.i) !== 1) || !ones("strides") || !ones("dilations")) return undefined;
  const autoPad = attr("auto_pad");
  if (autoPad && new TextDecoder().decode(autoPad.s ?? new Uint8Array()) !== "NOTSET") return undefined;
  const [x, w] = n.input ?? [];
  const wd = dims.get(w);
  const xd = dims.get(x);
  if (!wd || wd.length !== 4 || wd.some((d) => d === undefined) || !xd || xd.length !== 4 || xd.slice(1).some((d) => d === undefined)) return undefined;
  const [cout, cin, r, kw] = wd as number[];
  const [, c, h, wdt] = xd as number[];
  if (!KERNELS.includes(r) || kw !== r || c !== cin || cin < MIN_CHANNELS || cout < MIN_CHANNELS) return undefined;
  const [pt, pl, pb, pr] = (attr("pads")?.ints ?? [0, 0, 0, 0]).map(Number);
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
  const chunks = opts.batch ? Math.min(opts.batch, Math.max(1, Math.ceil((opts.batch * perImage) / (opts.chunkBytes ?? CHUNK_BYTES)))) : 1;
  return { chunks, m, r, cin, cout, h, w: wdt, pads, tiles, crop };
}
