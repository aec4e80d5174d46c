#pragma once
// 2-D convolution, weights Out x In x K x K (PyTorch's layout), by im2col + GEMM.
//   Conv<In, Out, K, Stride = 1, Pad = 0, Bias = true, Init = KaimingUniform>  (PyTorch Conv2d)
//   ConvSame<In, Out, K, Stride = 1, Bias = true, Init>   (TensorFlow padding="SAME": output
//     ceil(H / Stride); for even kernels the extra row/column of padding goes bottom/right)
// Samples are spread over threads (one im2col buffer each); weight gradients are summed per
// thread and reduced in a fixed order, so a given thread count always gives the same result.
#include <algorithm>
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
  static constexpr bool direct = K == 1 && S == 1 && PT == 0 && PL == 0 && PB == 0 && PR == 0;
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

  void forward(const float* x, float* y, int n, const Context&) {
    using kernels::Trans;
    const bool par = n > 1 && threads() > 1 && !omp_in_parallel();
    prepare_scratch(par ? threads() : 1, false);
#pragma omp parallel for schedule(static) if (par)
    for (int s = 0; s < n; ++s) {
      const float* xs = x + static_cast<std::ptrdiff_t>(s) * In::size;
      float* ys = y + static_cast<std::ptrdiff_t>(s) * Cout * P;
      const float* col = xs;
      if constexpr (!direct) {
        float* c = cols_[omp_get_thread_num()].data();
        kernels::im2col(xs, geometry, c);
        col = c;
      }
      kernels::gemm(Trans::no, Trans::no, Cout, P, KK, 1.f, w_, KK, col, P, 0.f, ys, P);
      if constexpr (HasBias) {
        const float* b = w_ + weight_count;
        for (int o = 0; o < Cout; ++o) {
          float* row = ys + static_cast<std::ptrdiff_t>(o) * P;
          for (int i = 0; i < P; ++i) row[i] += b[o];
        }
      }
    }
  }

  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
    using kernels::Trans;
    const bool par = n > 1 && threads() > 1 && !omp_in_parallel();
    const int nt = par ? threads() : 1;
    prepare_scratch(nt, true);
#pragma omp parallel num_threads(nt) if (par)
    {
      const int t = omp_get_thread_num();
      float* gw = partial_[t].data();
      std::fill(gw, gw + param_count, 0.f);
#pragma omp for schedule(static)
      for (int s = 0; s < n; ++s) {
        const float* xs = x + static_cast<std::ptrdiff_t>(s) * In::size;
        const float* gs = dy + static_cast<std::ptrdiff_t>(s) * Cout * P;
        const float* col = xs;
        if constexpr (!direct) {
          float* c = cols_[t].data();
          kernels::im2col(xs, geometry, c);
          col = c;
        }
        // dW += dY_s col^T
        kernels::gemm(Trans::no, Trans::yes, Cout, KK, P, 1.f, gs, P, col, P, 1.f, gw, KK);
        if constexpr (HasBias) {
          for (int o = 0; o < Cout; ++o) {
            const float* row = gs + static_cast<std::ptrdiff_t>(o) * P;
            float acc = 0.f;
            for (int i = 0; i < P; ++i) acc += row[i];
            gw[weight_count + o] += acc;
          }
        }
        if (dx) {
          float* dxs = dx + static_cast<std::ptrdiff_t>(s) * In::size;
          if constexpr (direct) {
            kernels::gemm(Trans::yes, Trans::no, KK, P, Cout, 1.f, w_, KK, gs, P, 0.f, dxs, P);
          } else {
            float* dcol = dcols_[t].data();
            kernels::gemm(Trans::yes, Trans::no, KK, P, Cout, 1.f, w_, KK, gs, P, 0.f, dcol, P);
            kernels::col2im(dcol, geometry, dxs);
          }
        }
      }
    }
    // Fixed-order reduction of the per-thread sums.
    for (int t = 0; t < nt; ++t) kernels::add_inplace(dw_, partial_[t].data(), param_count);
  }

 private:
  void prepare_scratch(int nt, bool backward) {
    if (static_cast<int>(cols_.size()) < nt) cols_.resize(nt);
    if (!direct)
      for (int t = 0; t < nt; ++t) cols_[t].resize(static_cast<std::size_t>(KK) * P);
    if (!backward) return;
    if (static_cast<int>(partial_.size()) < nt) { partial_.resize(nt); dcols_.resize(nt); }
    for (int t = 0; t < nt; ++t) {
      partial_[t].resize(param_count);
      if (!direct) dcols_[t].resize(static_cast<std::size_t>(KK) * P);
    }
  }

  float* w_ = nullptr;
  float* dw_ = nullptr;
  std::vector<std::vector<float>> cols_, dcols_, partial_;
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
