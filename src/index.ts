/** alexc's public surface for model files: the DSL. */
export { concat, model, N, Tensor } from "./graph/dsl";
export type { AugmentSpec, Conv2dOptions, LinearOptions, ModelDef, ModelSpec, Pool2dOptions, Preprocess, ScheduleSpec, TrainDefaults } from "./graph/dsl";
export type { Shape, ShapeOf } from "./graph/shape-types";
export type { WeightInit } from "./graph/init";
export { FASHION_MNIST_CLASSES } from "./train/data/fashion-mnist";
