#pragma once
// Max pooling. Pool<K, Stride = K, Pad = 0> follows PyTorch's MaxPool2d (floor mode, padding
// never wins the max); PoolSame<K, Stride> follows TensorFlow's padding="SAME" (output
// ceil(H / Stride), the extra padding at the bottom/right).
#include <algorithm>
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
      if constexpr (fast2x2) {
        pool2x2_forward(xp, yp, ap);
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
      if constexpr (fast2x2) {
        if (pool2x2_backward(gp, ap, dp)) continue;
      }
      for (int i = 0; i < H * W; ++i) dp[i] = 0.f;
      for (int o = 0; o < Ho * Wo; ++o) dp[ap[o]] += gp[o];
    }
  }

 private:
  static constexpr bool fast2x2 = K == 2 && S == 2 && PT == 0 && PL == 0 && PB == 0 && PR == 0;

  // The common 2x2/2 window without padding. The window's four values are compared in the
  // generic order (top-left, top-right, bottom-left, bottom-right; a later one wins only if
  // strictly greater), so results and argmax are those of the generic loop.
  static void pool2x2_forward(const float* xp, float* yp, int* ap) {
    int oh = 0;
#if XSIMD_WITH_AVX512F
    if (simd_enabled()) {
      const __m512i even = _mm512_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14, 16, 18, 20, 22, 24, 26, 28, 30);
      const __m512i odd = _mm512_add_epi32(even, _mm512_set1_epi32(1));
      const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
      for (; oh < Ho; ++oh) {
        const float* r0 = xp + 2 * oh * W;
        const float* r1 = r0 + W;
        for (int ow = 0; ow < Wo; ow += 16) {
          const int n = std::min(16, Wo - ow);
          const __mmask16 mo = static_cast<__mmask16>((1u << n) - 1);
          // 2n input floats: the first 16 in lo, the rest in hi.
          const __mmask16 mlo = static_cast<__mmask16>(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
          const __mmask16 mhi = static_cast<__mmask16>(n > 8 ? (1u << (2 * n - 16)) - 1 : 0);
          const float* a = r0 + 2 * ow;
          const float* b = r1 + 2 * ow;
          const __m512 a_lo = _mm512_maskz_loadu_ps(mlo, a), a_hi = _mm512_maskz_loadu_ps(mhi, a + 16);
          const __m512 b_lo = _mm512_maskz_loadu_ps(mlo, b), b_hi = _mm512_maskz_loadu_ps(mhi, b + 16);
          __m512 best = _mm512_permutex2var_ps(a_lo, even, a_hi);
          __m512i off = _mm512_setzero_si512();
          const __m512 tr = _mm512_permutex2var_ps(a_lo, odd, a_hi);
          const __m512 bl = _mm512_permutex2var_ps(b_lo, even, b_hi);
          const __m512 br = _mm512_permutex2var_ps(b_lo, odd, b_hi);
          __mmask16 m = _mm512_cmp_ps_mask(tr, best, _CMP_GT_OQ);
          best = _mm512_mask_blend_ps(m, best, tr);
          off = _mm512_mask_blend_epi32(m, off, _mm512_set1_epi32(1));
          m = _mm512_cmp_ps_mask(bl, best, _CMP_GT_OQ);
          best = _mm512_mask_blend_ps(m, best, bl);
          off = _mm512_mask_blend_epi32(m, off, _mm512_set1_epi32(W));
          m = _mm512_cmp_ps_mask(br, best, _CMP_GT_OQ);
          best = _mm512_mask_blend_ps(m, best, br);
          off = _mm512_mask_blend_epi32(m, off, _mm512_set1_epi32(W + 1));
          const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(2 * oh * W + 2 * ow), lane2);
          _mm512_mask_storeu_ps(yp + oh * Wo + ow, mo, best);
          _mm512_mask_storeu_epi32(ap + oh * Wo + ow, mo, _mm512_add_epi32(base, off));
        }
      }
    }
#endif
    for (; oh < Ho; ++oh) {
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
  }

  // Backward of the 2x2/2 window: every input element is written once (the gradient where it
  // was the argmax, else 0), no separate zeroing pass. False: not vectorised here, use the loop.
  static bool pool2x2_backward(const float* gp, const int* ap, float* dp) {
#if XSIMD_WITH_AVX512F
    if (!simd_enabled()) return false;
    const __m512i lo_idx = _mm512_setr_epi32(0, 16, 1, 17, 2, 18, 3, 19, 4, 20, 5, 21, 6, 22, 7, 23);
    const __m512i hi_idx = _mm512_add_epi32(lo_idx, _mm512_set1_epi32(8));
    const __m512i lane2 = _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
    for (int oh = 0; oh < Ho; ++oh) {
      float* d0 = dp + 2 * oh * W;
      float* d1 = d0 + W;
      for (int ow = 0; ow < Wo; ow += 16) {
        const int n = std::min(16, Wo - ow);
        const __mmask16 mo = static_cast<__mmask16>((1u << n) - 1);
        const __mmask16 mlo = static_cast<__mmask16>(n >= 8 ? 0xFFFF : (1u << (2 * n)) - 1);
        const __mmask16 mhi = static_cast<__mmask16>(n > 8 ? (1u << (2 * n - 16)) - 1 : 0);
        const __m512 g = _mm512_maskz_loadu_ps(mo, gp + oh * Wo + ow);
        const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(2 * oh * W + 2 * ow), lane2);
        const __m512i off = _mm512_sub_epi32(_mm512_maskz_loadu_epi32(mo, ap + oh * Wo + ow), base);
        const __m512 tl = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_setzero_si512()), g);
        const __m512 tr = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(1)), g);
        const __m512 bl = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(W)), g);
        const __m512 br = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(W + 1)), g);
        _mm512_mask_storeu_ps(d0 + 2 * ow, mlo, _mm512_permutex2var_ps(tl, lo_idx, tr));
        _mm512_mask_storeu_ps(d0 + 2 * ow + 16, mhi, _mm512_permutex2var_ps(tl, hi_idx, tr));
        _mm512_mask_storeu_ps(d1 + 2 * ow, mlo, _mm512_permutex2var_ps(bl, lo_idx, br));
        _mm512_mask_storeu_ps(d1 + 2 * ow + 16, mhi, _mm512_permutex2var_ps(bl, hi_idx, br));
      }
      if constexpr (W % 2 == 1) {  // the last column is in no window
        d0[W - 1] = 0.f;
        d1[W - 1] = 0.f;
      }
    }
    for (int h = 2 * Ho; h < H; ++h)  // the last row, for odd H
      for (int w = 0; w < W; ++w) dp[h * W + w] = 0.f;
    return true;
#else
    (void)gp; (void)ap; (void)dp;
    return false;
#endif
  }

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
