/**
 * Dropout(training) for the WebGPU provider, which has no Dropout kernel: x · mask / (1 − p) with
 * the keep-mask a graph input `<node>/mask`, drawn by the trainer from the run's seeded generator.
 * The CPU trainer applies this rewrite alone (passes/webgpu.ts, lowerDropout) so that a run
 * resumed mid-epoch sees the masks a straight run saw.
 */
import type { ProviderLowering } from "../lowering";
import { DTYPE_CODE } from "../types";

export const dropoutForWebGpu: ProviderLowering = {
  rewrite(ctx, n, [x]) {
    if (n.outputs.length !== 2 || !x) return undefined;
    const { b } = ctx;
    const p = Number(ctx.constant(n.inputs[1])!.data[0]);
    const mask = ctx.maskInput(`${n.name}/mask`, x.shape, p);
    return b.scoped(`${n.name}/webgpu`, () => {
      const scale = b.op1("Mul", [b.op1("Cast", [mask], { to: DTYPE_CODE[x.dtype] }), b.scalar(1 / (1 - p), x.dtype)]);
      return [
        b.op1("Mul", [x, scale], {}, { outputNames: [n.outputs[0].name] }),
        b.op1("Identity", [mask], {}, { outputNames: [n.outputs[1].name] }),
      ];
    });
  },
};
