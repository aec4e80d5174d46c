#pragma once
// Max pooling. Pool<K, Stride = K, Pad = 0> follows PyTorch's MaxPool2d (floor mode, padding
// never wins the max); PoolSame<K, Stride> follows TensorFlow's padding="SAME" (output
// ceil(H / Stride), the extra padding at the bottom/right).
#include <limits>
#include <type_traits>
#include <vector>

#include "../chain.hpp"
#include "../kernels/elementwise.hpp"
#include "../layer.hpp"
#include "relu.hpp"

namespace fernet {

namespace detail {

template <class In, int K, int S, int PT, int PL, int PB, int PR>
struct MaxPoolLayer : ParameterFree<In, Shape<In::channels, (In::height + PT + PB - K) / S + 1,
                                              (In::width + PL + PR - K) / S + 1>> {
  static constexpr int H = In::height, W = In::width;
  static constexpr int Ho = (H + PT + PB - K) / S + 1, Wo = (W + PL + PR - K) / S + 1;
  static_assert(H + PT + PB >= K && W + PL + PR >= K, "fernet: pooling window larger than the padded input");
  static_assert(PT < K && PL < K && PB < K && PR < K, "fernet: pooling padding must be smaller than the window");

  void forward(const float* x, float* y, int n, const Context&) {
    const int planes = n * In::channels;
    argmax_.resize(static_cast<std::size_t>(planes) * Ho * Wo);
#pragma omp parallel for schedule(static) if (planes * H * W > (1 << 14))
    for (int p = 0; p < planes; ++p) {
      const float* xp = x + static_cast<std::ptrdiff_t>(p) * H * W;
      float* yp = y + static_cast<std::ptrdiff_t>(p) * Ho * Wo;
      int* ap = argmax_.data() + static_cast<std::ptrdiff_t>(p) * Ho * Wo;
      if constexpr (K == 2 && S == 2 && PT == 0 && PL == 0 && PB == 0 && PR == 0) {
        // The common 2x2/2 window without padding: no bounds checks, branch-free selects.
        for (int oh = 0; oh < Ho; ++oh) {
          const float* r0 = xp + 2 * oh * W;
          const float* r1 = r0 + W;
          for (int ow = 0; ow < Wo; ++ow) {
            const int c = 2 * ow;
            float best = r0[c];
            int arg = 2 * oh * W + c;
            if (r0[c + 1] > best) { best = r0[c + 1]; arg = 2 * oh * W + c + 1; }
            if (r1[c] > best) { best = r1[c]; arg = (2 * oh + 1) * W + c; }
            if (r1[c + 1] > best) { best = r1[c + 1]; arg = (2 * oh + 1) * W + c + 1; }
            yp[oh * Wo + ow] = best;
            ap[oh * Wo + ow] = arg;
          }
        }
        continue;
      }
      for (int oh = 0; oh < Ho; ++oh) {
        const int h0 = oh * S - PT;
        for (int ow = 0; ow < Wo; ++ow) {
          const int w0 = ow * S - PL;
          float best = -std::numeric_limits<float>::infinity();
          int arg = -1;
          for (int kh = 0; kh < K; ++kh) {
            const int h = h0 + kh;
            if (h < 0 || h >= H) continue;
            for (int kw = 0; kw < K; ++kw) {
              const int w = w0 + kw;
              if (w < 0 || w >= W) continue;
              const float v = xp[h * W + w];
              if (v > best || arg < 0) { best = v; arg = h * W + w; }
            }
          }
          yp[oh * Wo + ow] = best;
          ap[oh * Wo + ow] = arg;
        }
      }
    }
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (!dx) return;
    const int planes = n * In::channels;
#pragma omp parallel for schedule(static) if (planes * H * W > (1 << 14))
    for (int p = 0; p < planes; ++p) {
      float* dp = dx + static_cast<std::ptrdiff_t>(p) * H * W;
      const float* gp = dy + static_cast<std::ptrdiff_t>(p) * Ho * Wo;
      const int* ap = argmax_.data() + static_cast<std::ptrdiff_t>(p) * Ho * Wo;
      for (int i = 0; i < H * W; ++i) dp[i] = 0.f;
      for (int o = 0; o < Ho * Wo; ++o) dp[ap[o]] += gp[o];
    }
  }

 private:
  std::vector<int> argmax_;
};

// TensorFlow "SAME": total padding so that the output is ceil(size / stride).
constexpr int same_out(int size, int s) { return (size + s - 1) / s; }
constexpr int same_pad_total(int size, int k, int s) {
  const int t = (same_out(size, s) - 1) * s + k - size;
  return t > 0 ? t : 0;
}

}  // namespace detail

template <int K, int Stride = K, int Pad = 0>
struct Pool : AnyShape {
  static_assert(K > 0 && Stride > 0 && Pad >= 0, "fernet: Pool<K, Stride, Pad> needs K, Stride > 0");
  static std::string name() { return "Pool<" + detail::join_ints(K, Stride, Pad) + ">"; }
  template <class In>
  using layer = detail::MaxPoolLayer<In, K, Stride, Pad, Pad, Pad, Pad>;
};

template <int K, int Stride = K>
struct PoolSame : AnyShape {
  static std::string name() { return "PoolSame<" + detail::join_ints(K, Stride) + ">"; }
  template <class In>
  using layer = detail::MaxPoolLayer<In, K, Stride,
                                     detail::same_pad_total(In::height, K, Stride) / 2,
                                     detail::same_pad_total(In::width, K, Stride) / 2,
                                     detail::same_pad_total(In::height, K, Stride) -
                                         detail::same_pad_total(In::height, K, Stride) / 2,
                                     detail::same_pad_total(In::width, K, Stride) -
                                         detail::same_pad_total(In::width, K, Stride) / 2>;
};

namespace detail {

template <class L> inline constexpr bool is_max_pool = false;
template <int K, int S, int P> inline constexpr bool is_max_pool<Pool<K, S, P>> = true;
template <int K, int S> inline constexpr bool is_max_pool<PoolSame<K, S>> = true;

// ReLU followed by max pooling runs as one layer: max and ReLU commute, so pooling first
// applies the ReLU to a quarter of the values and never writes the full-size ReLU output.
// Outputs and gradients are exactly those of the two layers.
template <class Pool>
struct ReluThenPool : Pool {
  void forward(const float* x, float* y, int n, const Context& ctx) {
    Pool::forward(x, y, n, ctx);
    kernels::relu_forward(y, y, static_cast<std::ptrdiff_t>(n) * Pool::out_shape::size);
  }
  void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context& ctx) {
    if (!dx) return;
    const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(n) * Pool::out_shape::size;
    grad_.resize(total);
    kernels::relu_backward(y, dy, grad_.data(), total);
    Pool::backward(x, y, grad_.data(), dx, n, ctx);
  }

 private:
  std::vector<float> grad_;
};

template <std::size_t I, class In, class P, class... Rest>
  requires(is_max_pool<P> && !std::is_same_v<In, poisoned_shape>)
struct bind_chain<I, In, ReLU, P, Rest...> {
  using bound = ReluThenPool<typename P::template layer<In>>;
  using next = bind_chain<I + 2, typename bound::out_shape, Rest...>;
  using impls = typename prepend<bound, typename next::impls>::type;
  using out = typename next::out;
};

}  // namespace detail

}  // namespace fernet
