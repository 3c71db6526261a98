/**
 * A lowering pass for onnxruntime's CPU provider: 3×3 and 5×5 convolutions of stride 1 by
 * Winograd's minimal filtering algorithm F(m×m, r×r) (src/graph/winograd.ts), in standard ONNX ops.
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
 * The tile is the one with the fewest multiplications for the output size (chooseTile: AlexNet's
 * 13×13 conv3–conv5 get F(5×5, 3×3), its 27×27 conv2 F(3×3, 5×5)). The pass applies to forward
 * convolutions and to the backward's dX convolutions alike (a stride-1 convolution's dX is one).
 * Given the batch the session runs at, a convolution whose transforms would take more than
 * `sliceBytes` runs in slices of the batch, one after another, so that the step's peak memory
 * stays where it was. On our 2-core machine, AlexNet's step is 17–20% faster at batch 32 and 128
 * with the same peak RSS (docs/performance.md).
 *
 * Float32 rounding differs from a direct convolution's: the transforms' coefficients scale the
 * rounding errors to 2e-5–4e-5 of the output's largest value on AlexNet's shapes, against ≈ 1e-6
 * directly (test/lower-winograd.test.ts checks convolutions and a whole step against direct ones).
 *
 * Like lower-cpu.ts, this rewrites the bytes handed to a CPU session, never the exported model. A
 * convolution is rewritten where all of these hold: 2-D, a 3×3 or 5×5 kernel, stride 1, dilation 1,
 * one group, explicit pads, static channels and spatial dims, and at least `MIN_CHANNELS` input
 * and output channels.
 */
import { decodeModel } from "../emit/decode";
import { encodeModel, tensorProto } from "../emit/encode";
import { onnx } from "../emit/proto";
import { makeTensor } from "../graph/types";
import { batchSlices, chooseTile, KERNELS, kron, MIN_CHANNELS, SLICE_BYTES, winogradTransforms } from "../graph/winograd";

const AT = onnx.AttributeProto.AttributeType;

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

/** The model bytes with every eligible convolution as F(m×m, r×r); `rewritten` counts them. */
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

    /** The convolution of a batch `xs` (without bias), as [N, K, m·th, m·tw], named `output` if given. */
    const convolve = (xs: string, tag: string, output?: string): string => {
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
      return node("Transpose", [node("Reshape", [ya, ints([cout, -1, m * th, m * tw])], t("y_kn"))], output ?? t("y_nk"), perm([1, 0, 2, 3]));
    };

    let out: string;
    if (plan.slices === 1) {
      out = convolve(x, "", crop || bias ? undefined : y);
      if (crop) out = node("Slice", [out, ints([0, 0]), ints(crop), ints([2, 3])], bias ? "y_crop" : y);
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
      const parts: string[] = [];
      let after: string | undefined;
      for (let i = 0; i < k; i++) {
        const clamped = i === 0 ? ints([0]) : node("Min", [node("Mul", [size, ints([i])], `start_${i}_full`), lastImage], `start_${i}_clamped`);
        const end = node("Max", [node("Min", [node("Mul", [size, ints([i + 1])], `end_${i}_full`), batch], `end_${i}_cut`), node("Add", [clamped, ints([1])], `end_${i}_least`)], `end_${i}`);
        // `after` is 0, computed from the previous slice's output: this slice cannot start before it exists.
        const start = after ? node("Add", [clamped, after], `start_${i}`) : clamped;
        const yi = convolve(node("Slice", [x, start, end, ints([0])], `x_${i}`), `_${i}`);
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
  const slices = batchSlices(opts.batch, perImage, opts.sliceBytes ?? SLICE_BYTES);
  return { slices, m, r, cin, cout, h, w: wdt, pads, tiles, crop };
}
