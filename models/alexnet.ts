/**
 * AlexNet as in the seed tutorial: one input channel (FashionMNIST resized to 224×224),
 * ten classes, dropout 0.5 — the same layers as its PyTorch `nn.Sequential`.
 */
import { FASHION_MNIST_CLASSES, model, N } from "../src";

export default model(
  {
    name: "alexnet",
    doc: "AlexNet (1×224×224 input, 10 classes) from the seed tutorial",
    input: [N, 1, 224, 224],
    classes: FASHION_MNIST_CLASSES,
    preprocess: { raw: [1, 28, 28], resize: 224 },
    // The seed's working protocol: Adam, lr 1e-3, batch 128, 3 epochs (lr 1e-2 diverged).
    train: { epochs: 3, batchSize: 128, lr: 1e-3, optimizer: "adam" },
    // The seed's `class AlexNet` keeps its layers in two nn.Sequential, `conv` and `fc`:
    // `alexc export-weights` writes (and `--init-from` reads) its state_dict names.
    torchNames: { conv1: "conv.0", conv2: "conv.3", conv3: "conv.6", conv4: "conv.8", conv5: "conv.10", fc1: "fc.0", fc2: "fc.3", fc3: "fc.6" },
  },
  (x) =>
    x
      .conv2d(96, { kernel: 11, stride: 4, padding: 2 }).relu().maxPool2d(3, { stride: 2 }) // [N,96,27,27]
      .conv2d(256, { kernel: 5, padding: 2 }).relu().maxPool2d(3, { stride: 2 }) //            [N,256,13,13]
      .conv2d(384, { kernel: 3, padding: 1 }).relu()
      .conv2d(384, { kernel: 3, padding: 1 }).relu()
      .conv2d(256, { kernel: 3, padding: 1 }).relu().maxPool2d(3, { stride: 2 }) //            [N,256,6,6]
      .flatten() //                                                                            [N,9216]
      .linear(4096).relu().dropout(0.5)
      .linear(4096).relu().dropout(0.5)
      .linear(10),
);
