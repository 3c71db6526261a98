/**
 * NCHWc convolutions, a pass for onnxruntime's CPU provider: each eligible convolution whose weight
 * is not a constant runs on onnxruntime's blocked-layout ("NCHWc") kernels.
 *
 * onnxruntime switches a Conv to those kernels (direct convolution over channel blocks of 8 with
 * AVX2, 16 with AVX-512) only when the weight is a constant initializer: it reorders the weight
 * once, when the session is created. In a training step every weight is a graph input (and the
 * backward's dX convolution computes its kernel from it), so every convolution would run the slower
 * im2col + GEMM path (docs/performance.md). This pass does the reordering inside the graph
 * instead, once per run, with standard Reshape/Transpose:
 *
 *   Conv(x, w, b) [→ Relu]  ⇒  ReorderOutput(nchwc.Conv(ReorderInput(x), blocked(w), b, activation))
 *
 * `blocked(w)` is onnxruntime's OIHWBiBo filter layout ([O/B, I/B, kh, kw, Bi, Bo] read back as
 * [O, I, kh, kw]), or OIHWBo ([O/B, I, kh, kw, Bo]) when the input has fewer than B channels
 * (then x stays in NCHW). A Relu that is the convolution's only consumer is fused. A convolution is
 * rewritten only where the kernels accept it: 2-D, one group, explicit pads, output channels a
 * multiple of B, input channels a multiple of B or fewer than B, all shapes known. The outputs are
 * those of the direct convolution up to float32 rounding; the `com.microsoft.nchwc` ops exist only
 * in onnxruntime's CPU provider, so this rewrites what a CPU session runs, never the exported model.
 * A block size of 1 (no such kernels) leaves the graph as it is.
 */
import type { Graph, GraphBuilder, Node } from "../graph/ir";
import type { AttrKind, AttrValue } from "../graph/op";
import { lookupOp } from "../graph/ops";
import type { Value } from "../graph/types";
import { indexGraph, isOnnx, staticDims, type GraphIndex } from "./graph-index";
import { rewriteNodes } from "./rewrite";
import { named, type Pass } from "./run";

export const NCHWC_DOMAIN = "com.microsoft.nchwc";

export const nchwc = (blockSize: number): Pass =>
  named("nchwc", (g) => {
    if (blockSize <= 1) return g;
    const index = indexGraph(g);
    const fused = new Set<Node>();
    return rewriteNodes(g, (b, n) => {
      if (fused.has(n)) return true;
      const plan = isOnnx(n, "Conv") ? planConv(n, index, blockSize) : undefined;
      if (!plan) return false;
      const relu = fusableRelu(n, index);
      if (relu) fused.add(relu);
      lowerConv(b, n, plan, blockSize, relu);
      return true;
    });
  });


/** How many convolutions of `g` run on the NCHWc kernels. */
export function nchwcConvCount(g: Graph): number {
  return g.nodes.filter((n) => n.op === "Conv" && n.domain === NCHWC_DOMAIN).length;
}

/** The Relu that is a convolution's only reader, which the NCHWc Conv can apply itself. */
function fusableRelu(conv: Node, index: GraphIndex): Node | undefined {
  const y = conv.outputs[0].name;
  const users = index.consumers(y);
  // A subgraph (Loop, If) may read the convolution's pre-activation output by name: no fusion then.
  const fusable = !index.hasSubgraphs && users.length === 1 && isOnnx(users[0], "Relu") && !index.isOutput(y);
  return fusable ? users[0] : undefined;
}

function lowerConv(b: GraphBuilder, n: Node, plan: Plan, B: number, relu: Node | undefined): void {
  const [x, w, bias] = n.inputs as (Value | undefined)[];
  const y = relu ? relu.outputs[0] : n.outputs[0];
  const { cout, cin, kh, kw } = plan;
  const at = (suffix: string) => `${n.name}/nchwc/${suffix}`;
  const blockedIn = cin % B === 0;
  const shape6 = blockedIn ? [cout / B, B, cin / B, B, kh, kw] : [cout / B, B, cin, kh, kw];
  const perm = blockedIn ? [0, 2, 4, 5, 3, 1] : [0, 2, 3, 4, 1];
  const wBlocks = b.op1("Reshape", [w, b.ints(shape6)], {}, { name: at("Reshape_blocks"), outputNames: [at("w_blocks")] });
  const wT = b.op1("Transpose", [wBlocks], { perm }, { name: at("Transpose"), outputNames: [at("w_t")] });
  const wBlocked = b.op1("Reshape", [wT, b.ints([cout, cin, kh, kw])], {}, { name: at("Reshape_filter"), outputNames: [at("w")] });
  const external = (op: string, inputs: (Value | undefined)[], attrs: Record<string, AttrValue>, attrKinds: Record<string, AttrKind>, output: Value, name: string, outputName: string) =>
    b.external(op, inputs, { domain: NCHWC_DOMAIN, attrs, attrKinds, outputs: [output] }, { name: at(name), outputNames: [outputName] })[0];
  // Blocked tensors keep their NCHW shape here: B divides the channels of every one of them.
  const xIn = blockedIn ? external("ReorderInput", [x], {}, {}, x!, "ReorderInput", at("x")) : x;
  const kinds = n.attrKinds ?? lookupOp("Conv").attrs;
  const attrs: Record<string, AttrValue> = Object.fromEntries(Object.entries(n.attrs).filter(([k]) => k !== "auto_pad"));
  const attrKinds: Record<string, AttrKind> = Object.fromEntries(Object.keys(attrs).map((k) => [k, kinds[k]]));
  if (relu) {
    attrs.activation = "Relu";
    attrKinds.activation = "string";
  }
  const yBlocked = external("Conv", [xIn, wBlocked, ...(bias ? [bias] : [])], attrs, attrKinds, n.outputs[0], "Conv", at("y"));
  external("ReorderOutput", [yBlocked], { channels: cout }, { channels: "int" }, y, "ReorderOutput", y.name);
}

type Plan = NonNullable<ReturnType<typeof planConv>>;

function planConv(n: Node, index: GraphIndex, B: number) {
  const group = n.attrs.group as number | undefined;
  if (group !== undefined && group !== 1) return undefined;
  const autoPad = n.attrs.auto_pad as string | undefined;
  if (autoPad !== undefined && autoPad !== "NOTSET") return undefined;
  const [x, w] = n.inputs;
  if (!x || !w) return undefined;
  if (index.isInitializer(w.name)) return undefined; // onnxruntime's own NCHWc transformer takes those
  const wd = staticDims(w);
  const xd = staticDims(x);
  if (wd.length !== 4 || wd.some((d) => d === undefined) || xd.length !== 4 || xd[1] !== wd[1]) return undefined;
  const [cout, cin, kh, kw] = wd as number[];
  if (cout % B !== 0 || (cin % B !== 0 && cin >= B)) return undefined;
  return { cout, cin, kh, kw };
}
