#pragma once
// Max pooling. Pool<K, Stride = K, Pad = 0> follows PyTorch's MaxPool2d (floor mode, padding
// never wins the max); PoolSame<K, Stride> follows TensorFlow's padding="SAME" (output
// ceil(H / Stride), the extra padding at the bottom/right).
#include <algorithm>
#include <limits>
#include <vector>

#include "../kernels/geometry.hpp"
#include "../kernels/pooling.hpp"
#include "../layer.hpp"

namespace fernet {

namespace detail {

template <class InShape, int K, int S, int PT, int PL, int PB, int PR>
using pool_out_shape = Shape<InShape::channels, kernels::window_out(InShape::height, K, S, PT, PB),
                             kernels::window_out(InShape::width, K, S, PL, PR)>;

// What both forms share: shapes and the window geometry.
template <class InShape, int K, int S, int PT, int PL, int PB, int PR, class Exec>
struct MaxPoolBase : ParameterFree<InShape, pool_out_shape<InShape, K, S, PT, PL, PB, PR>, Exec> {
  using ParameterFree<InShape, pool_out_shape<InShape, K, S, PT, PL, PB, PR>, Exec>::ParameterFree;
  static constexpr int H = InShape::height, W = InShape::width;
  static constexpr int Ho = kernels::window_out(H, K, S, PT, PB), Wo = kernels::window_out(W, K, S, PL, PR);
  static_assert(H + PT + PB >= K && W + PL + PR >= K, "fernet: pooling window larger than the padded input");
  static_assert(PT < K && PL < K && PB < K && PR < K, "fernet: pooling padding must be smaller than the window");
  static constexpr kernels::WindowGeometry geometry{InShape::channels, H, W, K, K, S, PT, PL, Ho, Wo};
};

// Max pooling over any execution policy's operations (the device backends): one gather per
// output with its argmax, and one gather per input gradient (no atomics).
template <class InShape, int K, int S, int PT, int PL, int PB, int PR, class Exec>
struct MaxPoolLayer : MaxPoolBase<InShape, K, S, PT, PL, PB, PR, Exec> {
  using Base = MaxPoolBase<InShape, K, S, PT, PL, PB, PR, Exec>;
  explicit MaxPoolLayer(const Exec& exec = {}) : Base(exec), argmax_(this->template make_array<int>()) {}
  void forward(const float* x, float* y, int n, const Context&) {
    argmax_.resize(static_cast<std::size_t>(this->total_out(n)));
    this->ops().maxpool_forward(x, Base::geometry, static_cast<long>(n) * InShape::channels, y, argmax_.data());
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (dx)
      this->ops().maxpool_backward(dy, argmax_.data(), Base::geometry, static_cast<long>(n) * InShape::channels, dx);
  }

 private:
  typename Exec::template array<int> argmax_;
};

// The CPU's own form, kept apart because its kernels (kernels/pooling.hpp) are hand-tuned: the
// 2x2/2 window vectorised for AVX-512 and AVX2 (NetAdam's first ReLU+pool forward 3.9x faster
// on AVX-512, NetAdam training +19%), other windows clipped once and branch-free (ResNet-18's
// stem pool 2.9x faster); benchmarks/NOTES.md. Results and argmax equal the generic rule's.
template <class InShape, int K, int S, int PT, int PL, int PB, int PR>
struct MaxPoolLayer<InShape, K, S, PT, PL, PB, PR, CpuExec> : MaxPoolBase<InShape, K, S, PT, PL, PB, PR, CpuExec> {
  using Base = MaxPoolBase<InShape, K, S, PT, PL, PB, PR, CpuExec>;
  using Base::Base;
  using Base::Ho, Base::Wo;

  void forward(const float* x, float* y, int n, const Context&) {
    const long planes = static_cast<long>(n) * InShape::channels;
    argmax_.resize(static_cast<std::size_t>(planes) * Ho * Wo);
    kernels::max_pool_forward<Base::geometry>(x, y, argmax_.data(), planes);
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (dx) kernels::max_pool_backward<Base::geometry>(dy, argmax_.data(), dx, static_cast<long>(n) * InShape::channels);
  }
  // The argmax array of n samples, for a fusion that computes this pooling itself
  // (layers/fusions.hpp); backward() then reads it as if forward() had run.
  int* argmax_for(int n) {
    argmax_.resize(static_cast<std::size_t>(n) * InShape::channels * Ho * Wo);
    return argmax_.data();
  }
  const int* argmax() const { return argmax_.data(); }

 private:
  std::vector<int> argmax_;
};

}  // namespace detail

template <int K, int Stride = K, int Pad = 0>
struct Pool : AnyShape {
  static_assert(K > 0 && Stride > 0 && Pad >= 0, "fernet: Pool<K, Stride, Pad> needs K, Stride > 0");
  static std::string name() { return "Pool<" + detail::join_ints(K, Stride, Pad) + ">"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::MaxPoolLayer<InShape, K, Stride, Pad, Pad, Pad, Pad, Exec>;
};

template <int K, int Stride = K>
struct PoolSame : AnyShape {
  static std::string name() { return "PoolSame<" + detail::join_ints(K, Stride) + ">"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::MaxPoolLayer<InShape, K, Stride, kernels::same_pad_before(InShape::height, K, Stride),
                                     kernels::same_pad_before(InShape::width, K, Stride),
                                     kernels::same_pad_after(InShape::height, K, Stride),
                                     kernels::same_pad_after(InShape::width, K, Stride), Exec>;
};

}  // namespace fernet
