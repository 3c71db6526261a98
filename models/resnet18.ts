/**
 * ResNet-18 as d2l.ai builds it for FashionMNIST (PyTorch edition, "Residual Networks"): one
 * input channel resized to 96×96, ten classes. Each residual block is conv3×3 → BatchNorm →
 * ReLU → conv3×3 → BatchNorm, plus its input (through a strided 1×1 conv where the block halves
 * the size and widens the channels), then ReLU.
 */
import { FASHION_MNIST_CLASSES, model, N } from "../src";

export default model(
  {
    name: "resnet18",
    doc: "ResNet-18 (1×96×96 input, 10 classes) as d2l.ai's nn.Sequential",
    input: [N, 1, 96, 96],
    classes: FASHION_MNIST_CLASSES,
    preprocess: { raw: [1, 28, 28], resize: 96 },
    // d2l's protocol: plain SGD, lr 0.05, batch 256, 10 epochs.
    train: { epochs: 10, batchSize: 256, lr: 0.05, optimizer: "sgd", momentum: 0 },
    // PyTorch's module defaults (issue 20), not d2l's Xavier re-initialisation (`init: "xavier"`):
    // with BatchNorm it learns at once from either start (docs/models.md).
    // d2l's net = nn.Sequential(b1, b2, b3, b4, b5, AdaptiveAvgPool2d, Flatten, Linear): a block
    // name maps everything inside it (b2.0.conv1 → 1.0.conv1), as in its state_dict.
    torchNames: { "b1.conv": "0.0", "b1.bn": "0.1", b2: "1", b3: "2", b4: "3", b5: "4", fc: "7" },
  },
  (x) =>
    x
      .conv2d(64, { kernel: 7, stride: 2, padding: 3, name: "b1.conv" }).batchNorm2d({ name: "b1.bn" }).relu()
      .maxPool2d(3, { stride: 2, padding: 1 }) //                                                               [N,64,24,24]
      .residual((x) => x.conv2d(64, { kernel: 3, padding: 1 }).batchNorm2d().relu().conv2d(64, { kernel: 3, padding: 1 }).batchNorm2d(), { name: "b2.0" }).relu()
      .residual((x) => x.conv2d(64, { kernel: 3, padding: 1 }).batchNorm2d().relu().conv2d(64, { kernel: 3, padding: 1 }).batchNorm2d(), { name: "b2.1" }).relu()
      .residual((x) => x.conv2d(128, { kernel: 3, padding: 1, stride: 2 }).batchNorm2d().relu().conv2d(128, { kernel: 3, padding: 1 }).batchNorm2d(), {
        name: "b3.0",
        shortcut: (x) => x.conv2d(128, { kernel: 1, stride: 2 }),
      }).relu() //                                                                                                  [N,128,12,12]
      .residual((x) => x.conv2d(128, { kernel: 3, padding: 1 }).batchNorm2d().relu().conv2d(128, { kernel: 3, padding: 1 }).batchNorm2d(), { name: "b3.1" }).relu()
      .residual((x) => x.conv2d(256, { kernel: 3, padding: 1, stride: 2 }).batchNorm2d().relu().conv2d(256, { kernel: 3, padding: 1 }).batchNorm2d(), {
        name: "b4.0",
        shortcut: (x) => x.conv2d(256, { kernel: 1, stride: 2 }),
      }).relu() //                                                                                                  [N,256,6,6]
      .residual((x) => x.conv2d(256, { kernel: 3, padding: 1 }).batchNorm2d().relu().conv2d(256, { kernel: 3, padding: 1 }).batchNorm2d(), { name: "b4.1" }).relu()
      .residual((x) => x.conv2d(512, { kernel: 3, padding: 1, stride: 2 }).batchNorm2d().relu().conv2d(512, { kernel: 3, padding: 1 }).batchNorm2d(), {
        name: "b5.0",
        shortcut: (x) => x.conv2d(512, { kernel: 1, stride: 2 }),
      }).relu() //                                                                                                  [N,512,3,3]
      .residual((x) => x.conv2d(512, { kernel: 3, padding: 1 }).batchNorm2d().relu().conv2d(512, { kernel: 3, padding: 1 }).batchNorm2d(), { name: "b5.1" }).relu()
      .adaptiveAvgPool2d(1) //                                                                                      [N,512,1,1]
      .flatten()
      .linear(10, { name: "fc" }),
);
