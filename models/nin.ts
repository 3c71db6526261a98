/**
 * Network in Network as d2l.ai trains it on FashionMNIST (PyTorch edition, "Network in Network
 * (NiN)"): NiN blocks (a conv, then two 1×1 convs, each with ReLU) of (96, 11, 4, 0),
 * (256, 5, 1, 2), (384, 3, 1, 1) with 3/2 max-pooling between, dropout 0.5, a last block of ten
 * channels, and global average pooling in place of fully connected layers; 224×224 input.
 */
import { FASHION_MNIST_CLASSES, model, N } from "../src";

export default model(
  {
    name: "nin",
    doc: "NiN (1×224×224 input, 10 classes) as d2l.ai's nn.Sequential",
    input: [N, 1, 224, 224],
    classes: FASHION_MNIST_CLASSES,
    preprocess: { raw: [1, 28, 28], resize: 224 },
    // d2l's protocol: plain SGD, lr 0.1, batch 128, 10 epochs.
    train: { epochs: 10, batchSize: 128, lr: 0.1, optimizer: "sgd", momentum: 0 },
    // d2l's train_ch6 re-initialises every Conv2d and Linear weight with nn.init.xavier_uniform_.
    init: "xavier",
    // d2l's net = nn.Sequential(nin_block, MaxPool2d, nin_block, MaxPool2d, nin_block, MaxPool2d,
    // Dropout, nin_block, AdaptiveAvgPool2d, Flatten); nin_block = nn.Sequential(Conv2d, ReLU,
    // Conv2d, ReLU, Conv2d, ReLU).
    torchNames: {
      conv1: "0.0", conv2: "0.2", conv3: "0.4", conv4: "2.0", conv5: "2.2", conv6: "2.4",
      conv7: "4.0", conv8: "4.2", conv9: "4.4", conv10: "7.0", conv11: "7.2", conv12: "7.4",
    },
  },
  (x) =>
    x
      .conv2d(96, { kernel: 11, stride: 4 }).relu().conv2d(96, { kernel: 1 }).relu().conv2d(96, { kernel: 1 }).relu()
      .maxPool2d(3, { stride: 2 }) //                                                                       [N,96,26,26]
      .conv2d(256, { kernel: 5, padding: 2 }).relu().conv2d(256, { kernel: 1 }).relu().conv2d(256, { kernel: 1 }).relu()
      .maxPool2d(3, { stride: 2 }) //                                                                       [N,256,12,12]
      .conv2d(384, { kernel: 3, padding: 1 }).relu().conv2d(384, { kernel: 1 }).relu().conv2d(384, { kernel: 1 }).relu()
      .maxPool2d(3, { stride: 2 }) //                                                                       [N,384,5,5]
      .dropout(0.5)
      .conv2d(10, { kernel: 3, padding: 1 }).relu().conv2d(10, { kernel: 1 }).relu().conv2d(10, { kernel: 1 }).relu()
      .adaptiveAvgPool2d(1) //                                                                              [N,10,1,1]
      .flatten(),
);
