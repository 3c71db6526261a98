/**
 * A lowering pass for onnxruntime's CPU provider: convolutions whose weights are not constants
 * run on onnxruntime's blocked-layout ("NCHWc") convolution kernels.
 *
 * onnxruntime switches a Conv to those kernels (direct convolution over channel blocks of 8 with
 * AVX2, 16 with AVX-512) only when the weight is a constant initializer: it reorders the weight
 * once, when the session is created. In a training step every weight is a graph input (and the
 * backward's dX convolution computes its kernel from it), so every convolution runs the slower
 * im2col + GEMM path: 1.2–1.7× slower for AlexNet's layers (docs/performance.md). This pass does
 * the reordering inside the graph instead, once per run, with standard Reshape/Transpose:
 *
 *   Conv(x, w, b) [→ Relu]  ⇒  ReorderOutput(nchwc.Conv(ReorderInput(x), blocked(w), b, activation))
 *
 * `blocked(w)` is onnxruntime's OIHWBiBo filter layout ([O/B, I/B, kh, kw, Bi, Bo] read back as
 * [O, I, kh, kw]), or OIHWBo ([O/B, I, kh, kw, Bo]) when the input has fewer than B channels
 * (then x stays in NCHW). A Relu that is the convolution's only consumer is fused.
 *
 * The `com.microsoft.nchwc` ops exist only in onnxruntime's CPU provider: this pass is applied to
 * the bytes handed to a CPU session, never to the exported model (which stays standard ONNX). A
 * convolution is rewritten only where the kernels accept it: 2-D, one group, explicit pads, output
 * channels a multiple of B, input channels a multiple of B or fewer than B, all shapes known.
 */
import * as ort from "onnxruntime-node";
import { decodeModel } from "../emit/decode";
import { encodeModel, tensorProto } from "../emit/encode";
import { IR_VERSION, onnx, OPSET } from "../emit/proto";
import { makeTensor } from "../graph/types";
import { lowerConvsToWinograd } from "./lower-winograd";
import type { GradientOptions } from "../graph/op";

export const NCHWC_DOMAIN = "com.microsoft.nchwc";

const AT = onnx.AttributeProto.AttributeType;

export interface CpuLowering {
  /** NCHWc block size (nchwcBlockSize()); 1 leaves convolutions on onnxruntime's im2col kernels. */
  readonly blockSize: number;
  /** 3×3 and 5×5 convolutions as Winograd's F(m×m, r×r) first (lower-winograd.ts). */
  readonly winograd: boolean;
  /** The batch the session will run at (Winograd's transforms are sized for it). */
  readonly batch?: number;
}

/**
 * The bytes a CPU session runs (step, evaluation): eligible convolutions as Winograd's algorithm,
 * then the rest on the NCHWc kernels. Counts what each pass rewrote.
 */
export function lowerForCpu(bytes: Uint8Array, opts: CpuLowering): { bytes: Uint8Array; winograd: number; nchwc: number } {
  const w = opts.winograd ? lowerConvsToWinograd(bytes, { batch: opts.batch }) : { bytes, rewritten: 0 };
  const n = lowerConvsToNchwc(w.bytes, opts.blockSize);
  return { bytes: n.bytes, winograd: w.rewritten, nchwc: n.rewritten };
}

/**
 * The gradient formulations of a step built for this lowering: with Winograd's convolutions, the
 * weight gradients take its form too (ops/conv-weight-grad-winograd.ts), sliced for `batch`.
 */
export function cpuStepGradients(opts: CpuLowering): GradientOptions {
  return opts.winograd ? { convWeightGrad: "winograd", batch: opts.batch } : {};
}

/** The model bytes (step, evaluation) with every eligible convolution on the NCHWc kernels; `rewritten` counts them. */
export function lowerConvsToNchwc(bytes: Uint8Array, blockSize: number): { bytes: Uint8Array; rewritten: number } {
  if (blockSize <= 1) return { bytes, rewritten: 0 };
  const m = decodeModel(bytes, "model for the CPU lowering");
  const { graph, rewritten } = lowerGraph(m.graph as onnx.IGraphProto, blockSize);
  if (rewritten === 0) return { bytes, rewritten };
  const opsetImport = [...m.opsetImport.filter((o) => o.domain !== NCHWC_DOMAIN), { domain: NCHWC_DOMAIN, version: 1 }];
  return { bytes: encodeModel({ ...m, graph, opsetImport }), rewritten };
}

function lowerGraph(g: onnx.IGraphProto, B: number): { graph: onnx.IGraphProto; rewritten: number } {
  const dims = new Map<string, (number | undefined)[] | undefined>();
  for (const v of [...(g.input ?? []), ...(g.valueInfo ?? []), ...(g.output ?? [])]) dims.set(v.name!, staticDims(v));
  for (const t of g.initializer ?? []) dims.set(t.name!, (t.dims ?? []).map(Number));
  const constants = new Set((g.initializer ?? []).map((t) => t.name!));
  const consumers = new Map<string, onnx.INodeProto[]>();
  for (const n of g.node ?? []) for (const i of n.input ?? []) consumers.set(i, [...(consumers.get(i) ?? []), n]);
  const graphOutputs = new Set((g.output ?? []).map((v) => v.name!));
  // A subgraph (Loop, If) may read a convolution's pre-activation output by name: no Relu fusion then.
  const hasSubgraphs = (g.node ?? []).some((n) => (n.attribute ?? []).some((a) => a.g || (a.graphs ?? []).length > 0));

  const nodes: onnx.INodeProto[] = [];
  const initializers: onnx.ITensorProto[] = [];
  const fused = new Set<onnx.INodeProto>();
  const dropped = new Set<string>();
  let rewritten = 0;
  for (const n of g.node ?? []) {
    if (fused.has(n)) continue;
    const plan = n.opType === "Conv" && !n.domain ? planConv(n, dims, constants, B) : undefined;
    if (!plan) {
      nodes.push(n);
      continue;
    }
    const [x, w, bias] = n.input!;
    const y = n.output![0];
    const users = consumers.get(y) ?? [];
    const fusable = !hasSubgraphs && users.length === 1 && users[0].opType === "Relu" && !users[0].domain && !graphOutputs.has(y);
    const relu = fusable ? users[0] : undefined;
    if (relu) {
      fused.add(relu);
      dropped.add(y);
    }
    const { cout, cin, kh, kw } = plan;
    const at = (suffix: string) => `${n.name || `conv${rewritten}`}/nchwc/${suffix}`;
    const blockedIn = cin % B === 0;
    const shape6 = blockedIn ? [cout / B, B, cin / B, B, kh, kw] : [cout / B, B, cin, kh, kw];
    const perm = blockedIn ? [0, 2, 4, 5, 3, 1] : [0, 2, 3, 4, 1];
    initializers.push(tensorProto(makeTensor(at("blocks"), "int64", [shape6.length], shape6)));
    initializers.push(tensorProto(makeTensor(at("dims"), "int64", [4], [cout, cin, kh, kw])));
    const attrs = (n.attribute ?? []).filter((a) => a.name !== "auto_pad");
    if (relu) attrs.push({ name: "activation", type: AT.STRING, s: new TextEncoder().encode("Relu") });
    nodes.push(
      { name: at("Reshape_blocks"), opType: "Reshape", input: [w, at("blocks")], output: [at("w_blocks")] },
      { name: at("Transpose"), opType: "Transpose", input: [at("w_blocks")], output: [at("w_t")], attribute: [{ name: "perm", type: AT.INTS, ints: perm }] },
      { name: at("Reshape_filter"), opType: "Reshape", input: [at("w_t"), at("dims")], output: [at("w")] },
      ...(blockedIn ? [{ name: at("ReorderInput"), opType: "ReorderInput", domain: NCHWC_DOMAIN, input: [x], output: [at("x")] }] : []),
      {
        name: at("Conv"),
        opType: "Conv",
        domain: NCHWC_DOMAIN,
        input: [blockedIn ? at("x") : x, at("w"), ...(bias ? [bias] : [])],
        output: [at("y")],
        attribute: attrs,
      },
      {
        name: at("ReorderOutput"),
        opType: "ReorderOutput",
        domain: NCHWC_DOMAIN,
        input: [at("y")],
        output: [relu ? relu.output![0] : y],
        attribute: [{ name: "channels", type: AT.INT, i: cout }],
      },
    );
    rewritten++;
  }
  const valueInfo = (g.valueInfo ?? []).filter((v) => !dropped.has(v.name!));
  return { graph: { ...g, node: nodes, initializer: [...(g.initializer ?? []), ...initializers], valueInfo }, rewritten };
}

/** The dims of a tensor value (undefined where symbolic), or undefined where its shape is unknown. */
function staticDims(v: onnx.IValueInfoProto): (number | undefined)[] | undefined {
  const d = v.type?.tensorType?.shape?.dim;
  return d ? d.map((x) => (x.dimValue === undefined || x.dimValue === null ? undefined : Number(x.dimValue))) : undefined;
}

function planConv(n: onnx.INodeProto, dims: Map<string, (number | undefined)[] | undefined>, constants: Set<string>, B: number) {
  const attr = (name: string) => (n.attribute ?? []).find((a) => a.name === name);
  const group = attr("group");
  if (group && Number(group.i) !== 1) return undefined;
  const autoPad = attr("auto_pad");
  if (autoPad && new TextDecoder().decode(autoPad.s ?? new Uint8Array()) !== "NOTSET") return undefined;
  const [x, w] = n.input ?? [];
  if (constants.has(w)) return undefined; // onnxruntime's own NCHWc transformer takes those
  const wd = dims.get(w);
  const xd = dims.get(x);
  if (!wd || wd.length !== 4 || wd.some((d) => d === undefined) || !xd || xd.length !== 4 || xd[1] !== wd[1]) return undefined;
  const [cout, cin, kh, kw] = wd as number[];
  if (cout % B !== 0 || (cin % B !== 0 && cin >= B)) return undefined;
  return { cout, cin, kh, kw };
}

let probed: Promise<number> | undefined;

/**
 * The NCHWc block size of this machine's onnxruntime CPU kernels (8 with AVX2, 16 with AVX-512),
 * read from the channel count ReorderInput pads 4 channels to; 1 where those kernels are absent.
 */
export function nchwcBlockSize(): Promise<number> {
  probed ??= (async () => {
    const tensorType = (dim: number[]) => ({ tensorType: { elemType: onnx.TensorProto.DataType.FLOAT, shape: { dim: dim.map((dimValue) => ({ dimValue })) } } });
    const model: onnx.IModelProto = {
      irVersion: IR_VERSION,
      opsetImport: [{ domain: "", version: OPSET }, { domain: NCHWC_DOMAIN, version: 1 }],
      graph: {
        name: "nchwc_probe",
        node: [{ name: "probe", opType: "ReorderInput", domain: NCHWC_DOMAIN, input: ["x"], output: ["y"] }],
        input: [{ name: "x", type: tensorType([1, 4, 1, 1]) }],
        output: [{ name: "y", type: { tensorType: { elemType: onnx.TensorProto.DataType.FLOAT } } }],
      },
    };
    try {
      const session = await ort.InferenceSession.create(encodeModel(model));
      const out = await session.run({ x: new ort.Tensor("float32", new Float32Array(4), [1, 4, 1, 1]) });
      await session.release();
      return Number(out.y.dims[1]);
    } catch {
      return 1;
    }
  })();
  return probed;
}
