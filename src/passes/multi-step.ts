/**
 * K optimizer steps in one run: the step graph (docs/training-graph.md contract: inputs images,
 * labels, lr, step and the mutable tensors; outputs their `.next`, loss and correct) becomes the
 * body of an ONNX Loop whose loop-carried values are the step counter, the parameters and the
 * optimizer state. K batches go in as one [K, N, ...] tensor (`images_all`, `labels_all`); the
 * losses and correct counts come out as scan outputs (`losses`, `corrects`). It applies to any
 * standalone step and guarantees the same updates as K runs of the step, in order. On a GPU
 * provider the carried tensors stay on the device for all K steps; on the CPU it saves K−1
 * hand-overs of the whole parameter set.
 */
import { GraphBuilder, type Graph } from "../graph/ir";
import { named, type Pass } from "./run";
import { makeTensor, type TensorType, type Value } from "../graph/types";

/** The step contract's names, as in src/train/step.ts. */
export interface StepNames {
  readonly counter: string;
  readonly next: (name: string) => string;
}

export const multiStep = ({ counter, next }: StepNames): Pass =>
  named("multi-step", (step) => {
    const input = (name: string) => step.inputs.find((v) => v.name === name) ?? fail(`the step has no input '${name}'`);
    const output = (name: string) => step.outputs.find((v) => v.name === name) ?? fail(`the step has no output '${name}'`);
    const fixed = new Set(["images", "labels", "lr", counter]);
    const carried = [input(counter), ...step.inputs.filter((v) => !fixed.has(v.name))];
    const [images, labels] = [input("images"), input("labels")];
    const perStep = (v: Value): Value => ({ name: `${v.name}_all`, dtype: v.dtype, shape: ["K", ...v.shape] });
    const [imagesAll, labelsAll] = [perStep(images), perStep(labels)];

    // Body: (iter, cond, carried...) → (cond, carried.next..., loss, correct); this iteration's
    // batch is gathered from the outer [K, ...] tensors.
    const body = new GraphBuilder(`${step.name}_loop_body`);
    const iter = body.input("iter", "int64", []);
    const cond = body.input("cond", "bool", []);
    for (const v of carried) body.inputs.push(body.adopt(v));
    const gather = (all: Value, v: Value) =>
      body.external("Gather", [all, iter], { attrs: { axis: 0 }, attrKinds: { axis: "int" }, outputs: [v] }, { name: `batch/Gather_${v.name}`, outputNames: [v.name] });
    gather(imagesAll, images);
    gather(labelsAll, labels);
    const condNext = body.op1("Identity", [cond], {}, { name: "cond/Identity", outputNames: ["cond.next"] });
    for (const t of step.initializers) body.initializer(t);
    for (const n of step.nodes) body.keep(n);
    body.outputs.push(condNext, ...carried.map((v) => output(next(v.name))), output("loss"), output("correct"));
    const loopBody = body.build(step.doc);

    const b = new GraphBuilder(`${step.name}_x_k`);
    b.inputs.push(imagesAll, labelsAll, input("lr"), ...carried);
    for (const v of b.inputs) b.adopt(v);
    const zero = b.initializer(makeTensor("loop/zero", "int64", [], [0]));
    const always = b.initializer(makeTensor("loop/true", "bool", [], [1]));
    const shape = b.op1("Shape", [imagesAll], {}, { name: "loop/Shape", outputNames: ["loop/shape"] });
    const k = b.external("Gather", [shape, zero], { attrs: { axis: 0 }, attrKinds: { axis: "int" }, outputs: [{ dtype: "int64", shape: [] }] }, { name: "loop/Gather", outputNames: ["loop/K"] })[0];
    const outputs: TensorType[] = [...carried.map((v) => output(next(v.name))), { dtype: "float32", shape: ["K"] }, { dtype: "int64", shape: ["K"] }];
    const results = b.external(
      "Loop",
      [k, always, ...carried],
      { attrs: { body: loopBody }, attrKinds: { body: "graph" }, outputs },
      { name: "loop/Loop", outputNames: [...carried.map((v) => next(v.name)), "losses", "corrects"] },
    );
    b.outputs.push(...results);
    return b.build("K training steps per run (ONNX Loop); contract: docs/training-graph.md");
  });


function fail(why: string): never {
  throw new Error(`internal: multi-step: ${why}`);
}
