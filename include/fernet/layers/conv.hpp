#pragma once
// 2-D convolution, weights Out x In x K x K (PyTorch's layout), by im2col + GEMM.
//   Conv<In, Out, K, Stride = 1, Pad = 0, Bias = true, Init = KaimingUniform>  (PyTorch Conv2d)
//   ConvSame<In, Out, K, Stride = 1, Bias = true, Init>   (TensorFlow padding="SAME": output
//     ceil(H / Stride); for even kernels the extra row/column of padding goes bottom/right)
// Samples are unrolled side by side into one wide im2col matrix (in chunks that bound its
// size), so that each pass is a few large matrix products: per-sample products would have
// 9 or 4 columns in ResNet's last stages, far too thin for a register-blocked kernel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../init.hpp"
#include "../kernels/elementwise.hpp"
#include "../kernels/gemm.hpp"
#include "../kernels/im2col.hpp"
#include "../layer.hpp"
#include "../parallel.hpp"
#include "pool.hpp"

namespace fernet {

namespace detail {

template <class In, int Cin, int Cout, int K, int S, int PT, int PL, int PB, int PR, bool HasBias,
          class Init>
struct ConvLayer {
  static constexpr int H = In::height, W = In::width;
  static_assert(H + PT + PB >= K && W + PL + PR >= K,
                "fernet: convolution kernel larger than its (padded) input");
  static constexpr int Ho = (H + PT + PB - K) / S + 1, Wo = (W + PL + PR - K) / S + 1;
  static constexpr int P = Ho * Wo;          // output pixels per channel
  static constexpr int KK = Cin * K * K;     // rows of the im2col matrix
  using in_shape = In;
  using out_shape = Shape<Cout, Ho, Wo>;
  static constexpr std::size_t weight_count = static_cast<std::size_t>(Cout) * KK;
  static constexpr std::size_t param_count = weight_count + (HasBias ? Cout : 0), buffer_count = 0;
  static constexpr kernels::ConvGeometry geometry{Cin, H, W, K, K, S, PT, PL, Ho, Wo};

  void bind(float* p, float* g, float*) { w_ = p; dw_ = g; }
  void init(Rng& rng) {
    Init::weights(w_, weight_count, KK, Cout * K * K, rng);
    if constexpr (HasBias) Init::bias(w_ + weight_count, Cout, KK, Cout * K * K, rng);
  }

  // Samples per chunk: the im2col matrix stays under about 32 MiB.
  static constexpr int chunk_samples = std::max<std::size_t>(1, (std::size_t{8} << 20) / (static_cast<std::size_t>(KK) * P));

  void forward(const float* x, float* y, int n, const Context&) {
    using kernels::Trans;
    for (int s0 = 0; s0 < n; s0 += chunk_samples) {
      const int cs = std::min(chunk_samples, n - s0);
      const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(cs) * P;
      unroll(x + static_cast<std::ptrdiff_t>(s0) * In::size, cs);
      out_.resize(static_cast<std::size_t>(Cout) * ld);
      kernels::gemm(Trans::no, Trans::no, Cout, static_cast<int>(ld), KK, 1.f, w_, KK, col_.data(), static_cast<int>(ld),
                    0.f, out_.data(), static_cast<int>(ld));
      // out is Cout x (sample, pixel); y is (sample, Cout, pixel): scatter rows, adding the bias.
      float* ys = y + static_cast<std::ptrdiff_t>(s0) * Cout * P;
#pragma omp parallel for schedule(static) if (static_cast<long>(cs) * Cout * P > (1 << 15))
      for (int s = 0; s < cs; ++s)
        for (int o = 0; o < Cout; ++o) {
          const float* src = out_.data() + o * ld + static_cast<std::ptrdiff_t>(s) * P;
          float* dst = ys + (static_cast<std::ptrdiff_t>(s) * Cout + o) * P;
          if constexpr (HasBias) {
            const float b = w_[weight_count + o];
            for (int i = 0; i < P; ++i) dst[i] = src[i] + b;
          } else {
            std::memcpy(dst, src, sizeof(float) * P);
          }
        }
    }
  }

  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
    using kernels::Trans;
    for (int s0 = 0; s0 < n; s0 += chunk_samples) {
      const int cs = std::min(chunk_samples, n - s0);
      const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(cs) * P;
      // Gather dY into Cout x (sample, pixel), the layout of the forward product.
      out_.resize(static_cast<std::size_t>(Cout) * ld);
      const float* dys = dy + static_cast<std::ptrdiff_t>(s0) * Cout * P;
#pragma omp parallel for schedule(static) if (static_cast<long>(cs) * Cout * P > (1 << 15))
      for (int o = 0; o < Cout; ++o)
        for (int s = 0; s < cs; ++s)
          std::memcpy(out_.data() + o * ld + static_cast<std::ptrdiff_t>(s) * P,
                      dys + (static_cast<std::ptrdiff_t>(s) * Cout + o) * P, sizeof(float) * P);
      if constexpr (HasBias) {
        for (int o = 0; o < Cout; ++o) dw_[weight_count + o] += kernels::sum(out_.data() + o * ld, ld);
      }
      unroll(x + static_cast<std::ptrdiff_t>(s0) * In::size, cs);
      // dW += dY col^T
      kernels::gemm(Trans::no, Trans::yes, Cout, KK, static_cast<int>(ld), 1.f, out_.data(), static_cast<int>(ld),
                    col_.data(), static_cast<int>(ld), 1.f, dw_, KK);
      if (!dx) continue;
      // dcol = W^T dY, then each column block is folded back into its sample's dx.
      kernels::gemm(Trans::yes, Trans::no, KK, static_cast<int>(ld), Cout, 1.f, w_, KK, out_.data(),
                    static_cast<int>(ld), 0.f, col_.data(), static_cast<int>(ld));
      float* dxs = dx + static_cast<std::ptrdiff_t>(s0) * In::size;
#pragma omp parallel for schedule(static) if (cs > 1 && !omp_in_parallel())
      for (int s = 0; s < cs; ++s)
        kernels::col2im_fixed<geometry>(col_.data() + static_cast<std::ptrdiff_t>(s) * P, dxs + static_cast<std::ptrdiff_t>(s) * In::size, ld);
    }
  }

 private:
  // im2col of cs samples side by side: col_ is KK x (cs * P).
  void unroll(const float* x, int cs) {
    const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(cs) * P;
    col_.resize(static_cast<std::size_t>(KK) * ld);
#pragma omp parallel for schedule(static) if (cs > 1 && !omp_in_parallel())
    for (int s = 0; s < cs; ++s)
      kernels::im2col_fixed<geometry>(x + static_cast<std::ptrdiff_t>(s) * In::size, col_.data() + static_cast<std::ptrdiff_t>(s) * P, ld);
  }

  float* w_ = nullptr;
  float* dw_ = nullptr;
  std::vector<float> col_, out_;
};

}  // namespace detail

template <int In, int Out, int K, int Stride = 1, int Pad = 0, bool Bias = true,
          class Init = init::KaimingUniform>
struct Conv {
  static_assert(In > 0 && Out > 0 && K > 0 && Stride > 0 && Pad >= 0,
                "fernet: Conv<In, Out, K, Stride, Pad> needs positive sizes");
  static std::string name() {
    return "Conv<" + detail::join_ints(In, Out, K, Stride, Pad) + (Bias ? "" : ",nobias") + ">";
  }
  template <class S> static constexpr bool accepts = S::channels == In;
  template <class S> using expects = expects_channels<In>;
  template <class S>
  using layer = detail::ConvLayer<S, In, Out, K, Stride, Pad, Pad, Pad, Pad, Bias, Init>;
};

template <int In, int Out, int K, int Stride = 1, bool Bias = true, class Init = init::KaimingUniform>
struct ConvSame {
  static std::string name() {
    return "ConvSame<" + detail::join_ints(In, Out, K, Stride) + (Bias ? "" : ",nobias") + ">";
  }
  template <class S> static constexpr bool accepts = S::channels == In;
  template <class S> using expects = expects_channels<In>;
  template <class S>
  using layer = detail::ConvLayer<
      S, In, Out, K, Stride, detail::same_pad_total(S::height, K, Stride) / 2,
      detail::same_pad_total(S::width, K, Stride) / 2,
      detail::same_pad_total(S::height, K, Stride) - detail::same_pad_total(S::height, K, Stride) / 2,
      detail::same_pad_total(S::width, K, Stride) - detail::same_pad_total(S::width, K, Stride) / 2,
      Bias, Init>;
};

}  // namespace fernet
