/**
 * VGG-11 as d2l.ai trains it on FashionMNIST (PyTorch edition, "Networks Using Blocks (VGG)"):
 * the five VGG blocks of conv_arch ((1, 64), (1, 128), (2, 256), (2, 512), (2, 512)) with the
 * channels divided by 4 (the book's ratio = 4), 224×224 input, and the FC 4096-4096-10 head
 * with dropout 0.5.
 */
import { FASHION_MNIST_CLASSES, model, N } from "../src";

export default model(
  {
    name: "vgg11",
    doc: "VGG-11, channels / 4 (1×224×224 input, 10 classes) as d2l.ai's nn.Sequential",
    input: [N, 1, 224, 224],
    classes: FASHION_MNIST_CLASSES,
    preprocess: { raw: [1, 28, 28], resize: 224 },
    // d2l's protocol: plain SGD, lr 0.05, batch 128, 10 epochs.
    train: { epochs: 10, batchSize: 128, lr: 0.05, optimizer: "sgd", momentum: 0 },
    // d2l's train_ch6 re-initialises every Conv2d and Linear weight with nn.init.xavier_uniform_.
    init: "xavier",
    // d2l's net = nn.Sequential(*conv_blks, Flatten, Linear, ReLU, Dropout, Linear, ReLU,
    // Dropout, Linear); each block an nn.Sequential of (Conv2d, ReLU)… and MaxPool2d.
    torchNames: {
      conv1: "0.0", conv2: "1.0", conv3: "2.0", conv4: "2.2", conv5: "3.0", conv6: "3.2", conv7: "4.0", conv8: "4.2",
      fc1: "6", fc2: "9", fc3: "12",
    },
  },
  (x) =>
    x
      .conv2d(16, { kernel: 3, padding: 1 }).relu().maxPool2d(2) //                                  [N,16,112,112]
      .conv2d(32, { kernel: 3, padding: 1 }).relu().maxPool2d(2) //                                  [N,32,56,56]
      .conv2d(64, { kernel: 3, padding: 1 }).relu().conv2d(64, { kernel: 3, padding: 1 }).relu().maxPool2d(2) //   [N,64,28,28]
      .conv2d(128, { kernel: 3, padding: 1 }).relu().conv2d(128, { kernel: 3, padding: 1 }).relu().maxPool2d(2) // [N,128,14,14]
      .conv2d(128, { kernel: 3, padding: 1 }).relu().conv2d(128, { kernel: 3, padding: 1 }).relu().maxPool2d(2) // [N,128,7,7]
      .flatten() //                                                                                   [N,6272]
      .linear(4096).relu().dropout(0.5)
      .linear(4096).relu().dropout(0.5)
      .linear(10),
);
