/** Numpy-style broadcasting of shapes: the rule behind every elementwise op. */
import type { RuleContext } from "../op";
import { Dim, formatShape, Shape } from "../types";

/** `what` names the shapes in the error (MatMul: "batch dims of [2,3,4] and [3,4,5]"). */
export function broadcastShapes(shapes: readonly Shape[], ctx: RuleContext, what = `shapes ${shapes.map(formatShape).join(" and ")}`): Dim[] {
  const rank = Math.max(...shapes.map((s) => s.length));
  const out: Dim[] = [];
  for (let i = 0; i < rank; i++) {
    let dim: Dim = 1;
    for (const s of shapes) {
      const d = s[s.length - rank + i];
      if (d === undefined || d === 1) continue;
      if (dim === 1) dim = d;
      else if (dim !== d && typeof dim === "number" && typeof d === "number") {
        ctx.fail(`${what} do not broadcast (axis ${i}: ${dim} vs ${d})`);
      }
    }
    out.push(dim);
  }
  return out;
}
