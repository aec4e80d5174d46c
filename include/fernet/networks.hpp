#pragma once
// The FER2013 notebook's networks as types (48x48 grey faces, 7 emotions).
#include "layers/all.hpp"
#include "sequential.hpp"

namespace fernet::networks {

// Section 3: 2304-1024-256-64-7 MLP with dropout 0.2 and log-softmax (NLLLoss).
using LinearMLP = Sequential<Input<1, 48, 48>, Flatten, Linear<2304, 1024>, ReLU, Dropout<0.2f>, Linear<1024, 256>,
                             ReLU, Dropout<0.2f>, Linear<256, 64>, ReLU, Dropout<0.2f>, Linear<64, 7>, LogSoftmax>;

// Sections 4.1 / 4.2: three 3x3 convolutions with 2x2 max pooling, then the MLP head.
template <float DropP>
using NotebookCNN =
    Sequential<Input<1, 48, 48>, Conv<1, 32, 3>, ReLU, Pool<2>, Conv<32, 64, 3>, ReLU, Pool<2>, Conv<64, 128, 3>, ReLU,
               Pool<2>, Flatten, Linear<2048, 1024>, ReLU, Dropout<DropP>, Linear<1024, 256>, ReLU, Dropout<DropP>,
               Linear<256, 64>, ReLU, Dropout<DropP>, Linear<64, 7>, LogSoftmax>;
using NetAdam = NotebookCNN<0.2f>;
using NetSGD = NotebookCNN<0.3f>;

// Section 5: the TensorFlow CNN on 48x48x3 (grey replicated), 'SAME' padding, convolutions
// without bias, Xavier initialisation as tf.contrib.layers; logits out (CrossEntropyLoss).
using TfCNN = Sequential<Input<3, 48, 48>, ConvSame<3, 8, 4, 1, false, init::XavierUniform>, ReLU, PoolSame<4, 4>,
                         ConvSame<8, 16, 2, 1, false, init::XavierUniform>, ReLU, PoolSame<2, 2>, Flatten,
                         Linear<576, 120, true, init::XavierUniform>, ReLU, Linear<120, 64, true, init::XavierUniform>,
                         ReLU, Linear<64, 7, true, init::XavierUniform>>;

// Section 6: torchvision ResNets with a 1-channel conv1 and a 7-way fc without bias.
// torchvision initialises its convolutions kaiming_normal(fan_out); the notebook replaces conv1
// and fc after construction, so those two keep PyTorch's default initialisation.
template <int In, int Out, int K, int Stride, int Pad>
using ResConv = Conv<In, Out, K, Stride, Pad, false, init::KaimingNormalFanOut>;

template <int In, int Out, int Stride>
using Downsample =
    std::conditional_t<(Stride != 1 || In != Out), Chain<ResConv<In, Out, 1, Stride, 0>, BatchNorm2d<Out>>, Identity>;

template <int In, int Out, int Stride>
using BasicBlock = Chain<Residual<Chain<ResConv<In, Out, 3, Stride, 1>, BatchNorm2d<Out>, ReLU,
                                        ResConv<Out, Out, 3, 1, 1>, BatchNorm2d<Out>>,
                                  Downsample<In, Out, Stride>>,
                         ReLU>;

// torchvision's Bottleneck (ResNet v1.5: the stride sits on the 3x3 convolution).
template <int In, int Width, int Stride>
using Bottleneck =
    Chain<Residual<Chain<ResConv<In, Width, 1, 1, 0>, BatchNorm2d<Width>, ReLU, ResConv<Width, Width, 3, Stride, 1>,
                         BatchNorm2d<Width>, ReLU, ResConv<Width, 4 * Width, 1, 1, 0>, BatchNorm2d<4 * Width>>,
                   Downsample<In, 4 * Width, Stride>>,
          ReLU>;

// A stage: the first block changes width/stride, the rest repeat.
template <template <int, int, int> class Block, int In, int Width, int Out, int Stride, int Blocks>
using Stage = Chain<Block<In, Width, Stride>, Repeat<Blocks - 1, Block<Out, Width, 1>>>;

using ResNetStem = Chain<Conv<1, 64, 7, 2, 3, false>, BatchNorm2d<64>, ReLU, Pool<3, 2, 1>>;
using ResNetHead = Chain<GlobalAvgPool, Flatten>;

template <int B1, int B2, int B3, int B4>
using ResNetBasic = Sequential<Input<1, 48, 48>, ResNetStem, Stage<BasicBlock, 64, 64, 64, 1, B1>,
                               Stage<BasicBlock, 64, 128, 128, 2, B2>, Stage<BasicBlock, 128, 256, 256, 2, B3>,
                               Stage<BasicBlock, 256, 512, 512, 2, B4>, ResNetHead, Linear<512, 7, false>>;

template <int B1, int B2, int B3, int B4>
using ResNetBottleneck = Sequential<Input<1, 48, 48>, ResNetStem, Stage<Bottleneck, 64, 64, 256, 1, B1>,
                                    Stage<Bottleneck, 256, 128, 512, 2, B2>, Stage<Bottleneck, 512, 256, 1024, 2, B3>,
                                    Stage<Bottleneck, 1024, 512, 2048, 2, B4>, ResNetHead, Linear<2048, 7, false>>;

using ResNet18 = ResNetBasic<2, 2, 2, 2>;
using ResNet50 = ResNetBottleneck<3, 4, 6, 3>;
using ResNet152 = ResNetBottleneck<3, 8, 36, 3>;

// Beyond the notebook: batch-normalised VGG-style networks for 44x44 crops of the faces (the
// accuracy recipes train on random crops and evaluate ten crops, train/recipes.hpp). One 3x3
// convolution in the first stage (the widest maps: two would double the cost), two in each of
// the other three, max pooling between stages, global average pooling and dropout before one
// linear layer. W is the first stage's width; the stages double it.
template <int In, int Out>
using BnConv = Chain<Conv<In, Out, 3, 1, 1, false>, BatchNorm2d<Out>, ReLU>;
template <int W>
using BnVgg = Sequential<Input<1, 44, 44>, BnConv<1, W>, Pool<2>,                     // 22x22
                         BnConv<W, 2 * W>, BnConv<2 * W, 2 * W>, Pool<2>,             // 11x11
                         BnConv<2 * W, 4 * W>, BnConv<4 * W, 4 * W>, Pool<2>,         // 5x5
                         BnConv<4 * W, 8 * W>, BnConv<8 * W, 8 * W>, GlobalAvgPool,  // 1x1
                         Flatten, Dropout<0.3f>, Linear<8 * W, 7>>;
using VggFast = BnVgg<32>;  // 32/64/128/256 channels: about 76 M multiply-adds per image forward
using VggBest = BnVgg<40>;  // 40/80/160/320: about 119 M

}  // namespace fernet::networks
