/**
 * K optimizer steps in one `run`: the step graph becomes the body of an ONNX Loop whose
 * loop-carried values are the parameters, the optimizer state and the step counter. K
 * batches go in as one [K, N, ...] uint8 tensor; losses and correct counts come out as
 * scan outputs. On a GPU provider the carried tensors stay on the device for all K steps
 * (the JS API copies every input and output of a run); on the CPU it saves K−1 hand-overs
 * of the whole parameter set.
 */
import { decodeModel } from "../emit/decode";
import { encodeModel, modelProto, tensorProto, typeProto, valueInfoProto } from "../emit/encode";
import type { onnx } from "../emit/proto";
import { makeTensor } from "../graph/types";
import { next, STEP_COUNTER } from "./step";

/** K-steps-per-run bytes for a standalone step model (docs/training-graph.md contract). */
export function multiStepBytes(stepModel: Uint8Array): Uint8Array {
  const m = decodeModel(stepModel, "step model");
  // The step's own opset imports (e.g. lower-cpu.ts's NCHWc domain) hold for the Loop body too.
  return encodeModel({ ...multiStepModel(m.graph as onnx.IGraphProto), opsetImport: m.opsetImport });
}

/** Wraps a step graph (inputs images, labels, lr, step and the mutable tensors) in a Loop. */
export function multiStepModel(body: onnx.IGraphProto): onnx.IModelProto {
  const inputs = body.input ?? [];
  const images = inputs.find((v) => v.name === "images")!;
  const labels = inputs.find((v) => v.name === "labels")!;
  const fixed = new Set(["images", "labels", "lr", STEP_COUNTER]);
  const carried = [STEP_COUNTER, ...inputs.map((v) => v.name!).filter((n) => !fixed.has(n))];
  const byName = new Map(inputs.map((v) => [v.name!, v]));
  const outByName = new Map((body.output ?? []).map((v) => [v.name!, v]));

  // Body: (iter, cond, carried...) → (cond, carried.next..., loss, correct); this iteration's
  // batch is sliced from the outer [K, ...] tensors.
  const loopBody: onnx.IGraphProto = {
    ...body,
    name: `${body.name}_loop_body`,
    input: [
      { name: "iter", type: typeProto("int64", []) },
      { name: "cond", type: typeProto("bool", []) },
      ...carried.map((n) => byName.get(n)!),
    ],
    output: [
      { name: "cond.next", type: typeProto("bool", []) },
      ...carried.map((n) => outByName.get(next(n))!),
      outByName.get("loss")!,
      outByName.get("correct")!,
    ],
    node: [
      { name: "batch/Gather_images", opType: "Gather", input: ["images_all", "iter"], output: ["images"], attribute: [{ name: "axis", type: 2, i: 0 }] },
      { name: "batch/Gather_labels", opType: "Gather", input: ["labels_all", "iter"], output: ["labels"], attribute: [{ name: "axis", type: 2, i: 0 }] },
      { name: "cond/Identity", opType: "Identity", input: ["cond"], output: ["cond.next"] },
      ...(body.node ?? []),
    ],
    valueInfo: [...(body.valueInfo ?? []), images, labels],
  };

  const main: onnx.IGraphProto = {
    name: `${body.name}_x_k`,
    input: [
      { name: "images_all", type: prependDim(images.type!, "K") },
      { name: "labels_all", type: prependDim(labels.type!, "K") },
      byName.get("lr")!,
      ...carried.map((n) => byName.get(n)!),
    ],
    initializer: [tensorProto(makeTensor("loop/true", "bool", [], [1])), tensorProto(makeTensor("loop/zero", "int64", [], [0]))],
    node: [
      { name: "loop/Shape", opType: "Shape", input: ["images_all"], output: ["loop/shape"] },
      { name: "loop/Gather", opType: "Gather", input: ["loop/shape", "loop/zero"], output: ["loop/K"], attribute: [{ name: "axis", type: 2, i: 0 }] },
      {
        name: "loop/Loop",
        opType: "Loop",
        input: ["loop/K", "loop/true", ...carried],
        output: [...carried.map(next), "losses", "corrects"],
        attribute: [{ name: "body", type: 5, g: loopBody }],
      },
    ],
    output: [
      ...carried.map((n) => ({ ...outByName.get(next(n))! })),
      { name: "losses", type: typeProto("float32", ["K"]) },
      { name: "corrects", type: typeProto("int64", ["K"]) },
    ],
    valueInfo: [valueInfoProto({ name: "loop/shape", dtype: "int64", shape: [5] }), valueInfoProto({ name: "loop/K", dtype: "int64", shape: [] })],
  };
  return modelProto(main, { doc: "K training steps per run (ONNX Loop); contract: docs/training-graph.md" });
}

function prependDim(t: onnx.ITypeProto, dim: string): onnx.ITypeProto {
  const tt = t.tensorType!;
  return { tensorType: { elemType: tt.elemType, shape: { dim: [{ dimParam: dim }, ...(tt.shape?.dim ?? [])] } } };
}
