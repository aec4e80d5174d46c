#pragma once
// Max pooling. Pool<K, Stride = K, Pad = 0> follows PyTorch's MaxPool2d (floor mode, padding
// never wins the max); PoolSame<K, Stride> follows TensorFlow's padding="SAME" (output
// ceil(H / Stride), the extra padding at the bottom/right).
#include <algorithm>
#include <limits>
#include <vector>

#include "../kernels/geometry.hpp"
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

// The CPU's own form, kept apart because its 2x2/2 window is hand-vectorised (AVX-512, and an
// AVX2 twin: forward and a backward that writes each input once; on AVX-512 NetAdam's first
// ReLU+pool forward ran 3.9x faster, NetAdam training +19%, benchmarks/NOTES.md). Results and
// argmax equal the generic loop's.
template <class InShape, int K, int S, int PT, int PL, int PB, int PR>
struct MaxPoolLayer<InShape, K, S, PT, PL, PB, PR, CpuExec> : MaxPoolBase<InShape, K, S, PT, PL, PB, PR, CpuExec> {
  using Base = MaxPoolBase<InShape, K, S, PT, PL, PB, PR, CpuExec>;
  using Base::Base;
  using Base::H, Base::W, Base::Ho, Base::Wo;

  void forward(const float* x, float* y, int n, const Context&) {
    const int planes = n * InShape::channels;
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
      // Any other window (ResNet's padded 3x3/2, TensorFlow's 'SAME' pools): the window clipped
      // to the input once per output instead of a bounds test per value, and the running
      // maximum kept without branches (a compare and two selects), because on real data "is
      // this value larger" is a coin toss the branch predictor loses (ResNet-18's stem pool,
      // forward, batch 100: 11.9 -> 4.1 ms; training +5%; benchmarks/NOTES.md). Window order
      // and "a later value wins only if strictly greater" as the generic rule
      // (element_rules.hpp), so the argmax is the same; the window's first value starts the
      // maximum, as it does there.
      for (int oh = 0; oh < Ho; ++oh) {
        const int h0 = oh * S - PT;
        const int h_begin = std::max(h0, 0), h_end = std::min(h0 + K, H);
        for (int ow = 0; ow < Wo; ++ow) {
          const int w0 = ow * S - PL;
          const int w_begin = std::max(w0, 0), w_end = std::min(w0 + K, W);
          int arg = h_begin * W + w_begin;
          float best = xp[arg];
          for (int h = h_begin; h < h_end; ++h)
            for (int w = w_begin; w < w_end; ++w) {
              const float v = xp[h * W + w];
              const bool larger = v > best;
              best = larger ? v : best;
              arg = larger ? h * W + w : arg;
            }
          yp[oh * Wo + ow] = best;
          ap[oh * Wo + ow] = arg;
        }
      }
    }
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (!dx) return;
    const int planes = n * InShape::channels;
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
      const __m512i lane2 =
          _mm512_slli_epi32(_mm512_setr_epi32(0, 1, 2, 3, 4, 5, 6, 7, 8, 9, 10, 11, 12, 13, 14, 15), 1);
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
#if XSIMD_WITH_AVX2 && !XSIMD_WITH_AVX512F
    // AVX2 (no masked loads): 8 windows at a time; a row's last group is the last 8 windows,
    // overlapping the one before (the overlap is written twice, with the same values).
    if (Wo >= 8 && simd_enabled()) {
      const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
      for (; oh < Ho; ++oh) {
        const float* r0 = xp + 2 * oh * W;
        const float* r1 = r0 + W;
        for (int g = 0; g < Wo; g += 8) {
          const int ow = std::min(g, Wo - 8);
          __m256 tl, tr, bl, br;
          deinterleave(r0 + 2 * ow, tl, tr);
          deinterleave(r1 + 2 * ow, bl, br);
          __m256 best = tl;
          __m256 off = _mm256_setzero_ps();  // the winner's offset in the window, as int bits
          auto take = [&](__m256 v, int offset) {
            const __m256 m = _mm256_cmp_ps(v, best, _CMP_GT_OQ);
            best = _mm256_blendv_ps(best, v, m);
            off = _mm256_blendv_ps(off, _mm256_castsi256_ps(_mm256_set1_epi32(offset)), m);
          };
          take(tr, 1);
          take(bl, W);
          take(br, W + 1);
          const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(2 * oh * W + 2 * ow), lane2);
          _mm256_storeu_ps(yp + oh * Wo + ow, best);
          _mm256_storeu_si256(reinterpret_cast<__m256i*>(ap + oh * Wo + ow),
                              _mm256_add_epi32(base, _mm256_castps_si256(off)));
        }
      }
    }
#endif
    for (; oh < Ho; ++oh) {
      const float* r0 = xp + 2 * oh * W;
      const float* r1 = r0 + W;
      for (int ow = 0; ow < Wo; ++ow) window(r0, r1, oh, ow, yp, ap);
    }
  }

  // One window (r0, r1: its two input rows): its maximum and argmax, in the generic order.
  static void window(const float* r0, const float* r1, int oh, int ow, float* yp, int* ap) {
    const int c = 2 * ow;
    float best = r0[c];
    int arg = 2 * oh * W + c;
    if (r0[c + 1] > best) {
      best = r0[c + 1];
      arg = 2 * oh * W + c + 1;
    }
    if (r1[c] > best) {
      best = r1[c];
      arg = (2 * oh + 1) * W + c;
    }
    if (r1[c + 1] > best) {
      best = r1[c + 1];
      arg = (2 * oh + 1) * W + c + 1;
    }
    yp[oh * Wo + ow] = best;
    ap[oh * Wo + ow] = arg;
  }

#if XSIMD_WITH_AVX2 && !XSIMD_WITH_AVX512F
  // 16 floats from p: the even ones into even, the odd ones into odd (in order).
  static void deinterleave(const float* p, __m256& even, __m256& odd) {
    const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
    // shuffle_ps works within 128-bit halves; the 64-bit permute puts the halves in order.
    even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
    odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
  }
  // Two rows of 8 windows' gradients into 16 floats from p: left[0], right[0], left[1], ...
  static void interleave(__m256 left, __m256 right, float* p) {
    const __m256 lo = _mm256_unpacklo_ps(left, right), hi = _mm256_unpackhi_ps(left, right);
    _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
    _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
  }
#endif

  // Backward of the 2x2/2 window: every input element is written once (the gradient where it
  // was the argmax, else 0), no separate zeroing pass (AVX-512, and its AVX2 twin with a scalar
  // tail). False: not vectorised here, use the loop.
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
    }
    zero_outside_windows(dp);
    return true;
#elif XSIMD_WITH_AVX2
    // Rows of fewer than 8 windows: the generic loop (a memset and a scatter) is faster.
    if (Wo < 8 || !simd_enabled()) return false;
    const __m256i lane2 = _mm256_setr_epi32(0, 2, 4, 6, 8, 10, 12, 14);
    for (int oh = 0; oh < Ho; ++oh) {
      float* d0 = dp + 2 * oh * W;
      float* d1 = d0 + W;
      for (int group = 0; group < Wo; group += 8) {  // the last group overlaps, as in forward
        const int ow = std::min(group, Wo - 8);
        const __m256 g = _mm256_loadu_ps(gp + oh * Wo + ow);
        const __m256i base = _mm256_add_epi32(_mm256_set1_epi32(2 * oh * W + 2 * ow), lane2);
        const __m256i off =
            _mm256_sub_epi32(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(ap + oh * Wo + ow)), base);
        auto at = [&](int offset) {  // g where the window's argmax is at `offset`, else 0
          return _mm256_and_ps(g, _mm256_castsi256_ps(_mm256_cmpeq_epi32(off, _mm256_set1_epi32(offset))));
        };
        interleave(at(0), at(1), d0 + 2 * ow);
        interleave(at(W), at(W + 1), d1 + 2 * ow);
      }
    }
    zero_outside_windows(dp);
    return true;
#else
    (void)gp;
    (void)ap;
    (void)dp;
    return false;
#endif
  }

  // The inputs in no window: the last column for odd W, the last row for odd H.
  static void zero_outside_windows(float* dp) {
    if constexpr (W % 2 == 1)
      for (int h = 0; h < 2 * Ho; ++h) dp[h * W + W - 1] = 0.f;
    for (int h = 2 * Ho; h < H; ++h)
      for (int w = 0; w < W; ++w) dp[h * W + w] = 0.f;
  }

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
