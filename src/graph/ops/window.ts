/**
 * Sliding-window arithmetic shared by Conv, MaxPool and AveragePool: the one place where the
 * output-size formula floor((H + pb + pe − d·(k−1) − 1)/s) + 1 lives (ceil in ceil_mode, less a
 * last window that would start in the right padding).
 */
import type { RuleContext } from "../op";
import type { Dim } from "../types";

export interface Window {
  readonly kernel: readonly number[];
  readonly strides: readonly number[];
  readonly pads: readonly number[]; // ONNX order: all begins, then all ends
  readonly dilations: readonly number[];
  readonly ceil?: boolean;
}

const AXIS_NAMES = ["height", "width", "depth"];

/** Output spatial dims; fails with the numbers when the window does not fit. */
export function windowOutput(spatial: readonly Dim[], w: Window, ctx: RuleContext): Dim[] {
  const n = spatial.length;
  return spatial.map((size, i) => {
    const k = w.kernel[i];
    const s = w.strides[i] ?? 1;
    const d = w.dilations[i] ?? 1;
    const pb = w.pads[i] ?? 0;
    const pe = w.pads[i + n] ?? 0;
    // A symbolic size passes through a window that keeps every position (kernel 1, stride 1, no pads).
    if (typeof size !== "number") return k === 1 && s === 1 && pb === 0 && pe === 0 ? size : `${ctx.node}_${AXIS_NAMES[i] ?? i}`;
    const span = d * (k - 1) + 1;
    const padded = size + pb + pe;
    if (span > padded) {
      const kernelText = d === 1 ? `kernel ${k}` : `dilated kernel ${span} (${k} with dilation ${d})`;
      const padText = pb === pe ? `${size}+2*${pb}` : `${size}+${pb}+${pe}`;
      ctx.fail(`${kernelText} is larger than the padded input ${AXIS_NAMES[i] ?? `axis ${i}`} ${padText}=${padded}`);
    }
    const q = (padded - span) / s;
    const out = (w.ceil ? Math.ceil(q) : Math.floor(q)) + 1;
    // ceil_mode (PyTorch, onnxruntime): a last window that would start in the right padding is dropped.
    return w.ceil && (out - 1) * s >= size + pb ? out - 1 : out;
  });
}

/** Reads kernel/strides/pads/dilations attributes with ONNX defaults for `rank` spatial axes. */
export function windowFromAttrs(
  attrs: { kernel_shape?: unknown; strides?: unknown; pads?: unknown; dilations?: unknown; ceil_mode?: unknown },
  rank: number,
  kernelFallback?: readonly number[],
): Window {
  const ones = new Array<number>(rank).fill(1);
  return {
    kernel: (attrs.kernel_shape as number[] | undefined) ?? kernelFallback ?? ones,
    strides: (attrs.strides as number[] | undefined) ?? ones,
    pads: (attrs.pads as number[] | undefined) ?? new Array<number>(2 * rank).fill(0),
    dilations: (attrs.dilations as number[] | undefined) ?? ones,
    ceil: attrs.ceil_mode === 1,
  };
}

/**
 * The output_padding that makes ConvTranspose (the transpose of a window op) return exactly
 * the forward input's size: the rows a strided window never reached.
 */
export function transposeOutputPadding(inSpatial: readonly number[], outSpatial: readonly number[], w: Window): number[] {
  const n = inSpatial.length;
  return inSpatial.map((size, i) => {
    const span = (w.dilations[i] ?? 1) * (w.kernel[i] - 1) + 1;
    const reached = (w.strides[i] ?? 1) * (outSpatial[i] - 1) + span - (w.pads[i] ?? 0) - (w.pads[i + n] ?? 0);
    return size - reached;
  });
}
