/**
 * A shape-types fixture: a residual add whose shortcut skips a conv that changes the channels
 * (96 → 64), so the two branches do not broadcast. The @ts-expect-error keeps `tsc -p .` green;
 * test/shape-types.test.ts removes it and checks tsc's message and line.
 */
import { model, N } from "../../src";

export default model({ name: "broadcast-mismatch", input: [N, 3, 55, 55] }, (x) => {
  const a = x.conv2d(96, { kernel: 3, padding: 1 }).relu(); // [N,96,55,55]
  const b = a.conv2d(64, { kernel: 3, padding: 1 }); // [N,64,55,55]
  // @ts-expect-error -- add: shapes [N,96,55,55] and [N,64,55,55] do not broadcast (axis 1: 96 vs 64)
  return a.add(b).relu().flatten().linear(10);
});
