#pragma once
// Max pooling on the CPU. Every form compares a window's values in the generic order of
// element_rules.hpp (row-major; a later value wins only if strictly greater, padding never), so
// values and argmax are those of the rule the device backends run.
//
// The kernels take the window's geometry either as a kernels::WindowGeometry (sizes known at run
// time) or as FixedWindow<G> (the same members as compile-time constants). The layers use the
// fixed form, which lets the compiler fold the sizes, masks and clipping: the 2x2 kernel ran up
// to 2x and the clipped 4x4 window 7x slower with run-time sizes (Zen 5). In a FERNET_DISPATCH
// build the 2x2 window and the windows that never reach the padding, whose speed is their
// vector width, run the kernel set's run-time forms (chosen by processor); padded windows are
// scalar loops either way, so they keep the fixed form in the layer's own code.
#include <algorithm>
#include <cstddef>

#include "../parallel.hpp"
#include "../simd.hpp"
#include "geometry.hpp"
#include "kernel_set.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

// The 2x2/2 window without padding: the hand-vectorised case.
template <class Geo>
constexpr bool is_plain2x2(const Geo& g) {
  return g.kh == 2 && g.kw == 2 && g.stride == 2 && g.pad_top == 0 && g.pad_left == 0 && 2 * g.out_h <= g.height &&
         2 * g.out_w <= g.width;
}

namespace pool_detail {

// The common 2x2/2 window without padding, one plane (xp: H x W; yp, ap: Ho x Wo).
inline void window2x2(const float* r0, const float* r1, int W, int oh, int ow, int Wo, float* yp, int* ap) {
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
inline void deinterleave(const float* p, __m256& even, __m256& odd) {
  const __m256 a = _mm256_loadu_ps(p), b = _mm256_loadu_ps(p + 8);
  // shuffle_ps works within 128-bit halves; the 64-bit permute puts the halves in order.
  even = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0x88)), 0xD8));
  odd = _mm256_castpd_ps(_mm256_permute4x64_pd(_mm256_castps_pd(_mm256_shuffle_ps(a, b, 0xDD)), 0xD8));
}
// Two rows of 8 windows' gradients into 16 floats from p: left[0], right[0], left[1], ...
inline void interleave(__m256 left, __m256 right, float* p) {
  const __m256 lo = _mm256_unpacklo_ps(left, right), hi = _mm256_unpackhi_ps(left, right);
  _mm256_storeu_ps(p, _mm256_permute2f128_ps(lo, hi, 0x20));
  _mm256_storeu_ps(p + 8, _mm256_permute2f128_ps(lo, hi, 0x31));
}
#endif

template <class Geo>
inline void pool2x2_forward(const float* xp, float* yp, int* ap, const Geo& geo) {
  const int W = geo.width, Ho = geo.out_h, Wo = geo.out_w;
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
        // Plain loads where the group is whole and no load where its mask is empty: masked
        // loads cost far more than plain ones on Zen 5 (this kernel ran 2.8x slower with masks
        // on every load once its sizes became run-time values).
        __m512 a_lo, a_hi, b_lo, b_hi;
        if (n == 16) {
          a_lo = _mm512_loadu_ps(a), a_hi = _mm512_loadu_ps(a + 16);
          b_lo = _mm512_loadu_ps(b), b_hi = _mm512_loadu_ps(b + 16);
        } else if (n > 8) {
          a_lo = _mm512_loadu_ps(a), a_hi = _mm512_maskz_loadu_ps(mhi, a + 16);
          b_lo = _mm512_loadu_ps(b), b_hi = _mm512_maskz_loadu_ps(mhi, b + 16);
        } else {
          a_lo = _mm512_maskz_loadu_ps(mlo, a), a_hi = _mm512_setzero_ps();
          b_lo = _mm512_maskz_loadu_ps(mlo, b), b_hi = _mm512_setzero_ps();
        }
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
    for (int ow = 0; ow < Wo; ++ow) window2x2(r0, r1, W, oh, ow, Wo, yp, ap);
  }
}

// The inputs in no 2x2 window: the last column for odd W, the last row for odd H.
template <class Geo>
inline void zero_outside_windows(float* dp, const Geo& geo) {
  const int H = geo.height, W = geo.width, Ho = geo.out_h;
  if (W % 2 == 1)
    for (int h = 0; h < 2 * Ho; ++h) dp[h * W + W - 1] = 0.f;
  for (int h = 2 * Ho; h < H; ++h)
    for (int w = 0; w < W; ++w) dp[h * W + w] = 0.f;
}

// Backward of the 2x2/2 window: every input element is written once (the gradient where it
// was the argmax, else 0), no separate zeroing pass (AVX-512, and its AVX2 twin). False: not
// vectorised here, use the generic loop.
template <class Geo>
inline bool pool2x2_backward(const float* gp, const int* ap, float* dp, const Geo& geo) {
  const int W = geo.width, Wo = geo.out_w;
  [[maybe_unused]] const int Ho = geo.out_h;
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
      const bool whole = n == 16;  // plain loads and stores: see pool2x2_forward
      const __m512 g = whole ? _mm512_loadu_ps(gp + oh * Wo + ow) : _mm512_maskz_loadu_ps(mo, gp + oh * Wo + ow);
      const __m512i base = _mm512_add_epi32(_mm512_set1_epi32(2 * oh * W + 2 * ow), lane2);
      const __m512i arg = whole ? _mm512_loadu_si512(ap + oh * Wo + ow) : _mm512_maskz_loadu_epi32(mo, ap + oh * Wo + ow);
      const __m512i off = _mm512_sub_epi32(arg, base);
      const __m512 tl = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_setzero_si512()), g);
      const __m512 tr = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(1)), g);
      const __m512 bl = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(W)), g);
      const __m512 br = _mm512_maskz_mov_ps(_mm512_cmpeq_epi32_mask(off, _mm512_set1_epi32(W + 1)), g);
      const __m512 top_lo = _mm512_permutex2var_ps(tl, lo_idx, tr), top_hi = _mm512_permutex2var_ps(tl, hi_idx, tr);
      const __m512 bottom_lo = _mm512_permutex2var_ps(bl, lo_idx, br);
      const __m512 bottom_hi = _mm512_permutex2var_ps(bl, hi_idx, br);
      if (mlo == 0xFFFF) {
        _mm512_storeu_ps(d0 + 2 * ow, top_lo);
        _mm512_storeu_ps(d1 + 2 * ow, bottom_lo);
      } else {
        _mm512_mask_storeu_ps(d0 + 2 * ow, mlo, top_lo);
        _mm512_mask_storeu_ps(d1 + 2 * ow, mlo, bottom_lo);
      }
      if (whole) {
        _mm512_storeu_ps(d0 + 2 * ow + 16, top_hi);
        _mm512_storeu_ps(d1 + 2 * ow + 16, bottom_hi);
      } else if (mhi) {
        _mm512_mask_storeu_ps(d0 + 2 * ow + 16, mhi, top_hi);
        _mm512_mask_storeu_ps(d1 + 2 * ow + 16, mhi, bottom_hi);
      }
    }
  }
  zero_outside_windows(dp, geo);
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
  zero_outside_windows(dp, geo);
  return true;
#else
  (void)gp, (void)ap, (void)dp, (void)W, (void)Wo;
  return false;
#endif
}

// Any other window (ResNet's padded 3x3/2, TensorFlow's 'SAME' pools), one plane: the window
// clipped to the input once per output instead of a bounds test per value, and the running
// maximum kept without branches (a compare and two selects), because on real data "is this
// value larger" is a coin toss the branch predictor loses (ResNet-18's stem pool, forward,
// batch 100: 11.9 -> 4.1 ms; benchmarks/NOTES.md). The window's first value starts the maximum,
// as in the generic rule.
template <class Geo>
inline void window_forward(const float* xp, float* yp, int* ap, const Geo& g) {
  const int H = g.height, W = g.width, S = g.stride, PT = g.pad_top, PL = g.pad_left, kh = g.kh, kw = g.kw;
  for (int oh = 0; oh < g.out_h; ++oh) {
    const int h0 = oh * S - PT;
    const int h_begin = std::max(h0, 0), h_end = std::min(h0 + kh, H);
    for (int ow = 0; ow < g.out_w; ++ow) {
      const int w0 = ow * S - PL;
      const int w_begin = std::max(w0, 0), w_end = std::min(w0 + kw, W);
      int arg = h_begin * W + w_begin;
      float best = xp[arg];
      for (int h = h_begin; h < h_end; ++h)
        for (int w = w_begin; w < w_end; ++w) {
          const float v = xp[h * W + w];
          const bool larger = v > best;
          best = larger ? v : best;
          arg = larger ? h * W + w : arg;
        }
      yp[oh * g.out_w + ow] = best;
      ap[oh * g.out_w + ow] = arg;
    }
  }
}

// Windows of K x K, stride S, that all lie inside the plane (no padding reached): no clipping,
// and a row's windows taken in blocks of a compile-time count B, which the compiler vectorises
// across the windows (strided loads by permutes) although the sizes are known only at run time
// (a loop over a run-time count of windows stayed scalar). TF-CNN's 4x4/4 pool, 400 planes of
// 48x48: 93 us this way on x86-64-v4, 75 with every size known at compile time, 228 scalar
// (-O3, Zen 5).
template <int K, int S, int B>
inline void windows_block(const float* xp, float* yp, int* ap, int W, int Wo, int oh, int ow0) {
  for (int l = 0; l < B; ++l) {
    const int ow = ow0 + l, first = oh * S * W + ow * S;
    int arg = first;
    float best = xp[first];
    for (int h = 0; h < K; ++h)
      for (int w = 0; w < K; ++w) {
        const float v = xp[first + h * W + w];
        const bool larger = v > best;
        best = larger ? v : best;
        arg = larger ? first + h * W + w : arg;
      }
    yp[oh * Wo + ow] = best;
    ap[oh * Wo + ow] = arg;
  }
}
template <int K, int S>
inline void window_inside(const float* xp, float* yp, int* ap, int W, int Ho, int Wo) {
  for (int oh = 0; oh < Ho; ++oh) {
    int ow = 0;
    for (; ow + 16 <= Wo; ow += 16) windows_block<K, S, 16>(xp, yp, ap, W, Wo, oh, ow);
    if (ow + 8 <= Wo) windows_block<K, S, 8>(xp, yp, ap, W, Wo, oh, ow), ow += 8;
    if (ow + 4 <= Wo) windows_block<K, S, 4>(xp, yp, ap, W, Wo, oh, ow), ow += 4;
    for (; ow < Wo; ++ow) windows_block<K, S, 1>(xp, yp, ap, W, Wo, oh, ow);
  }
}
}  // namespace pool_detail

// Whether every window lies inside the plane.
template <class Geo>
constexpr bool windows_inside(const Geo& g) {
  return g.pad_top == 0 && g.pad_left == 0 && (g.out_h - 1) * g.stride + g.kh <= g.height &&
         (g.out_w - 1) * g.stride + g.kw <= g.width;
}

// y and argmax (indices within the plane) of `planes` planes of g.height x g.width.
template <class Geo>
inline void max_pool_forward_planes(const float* x, float* y, int* argmax, long planes, const Geo& g) {
  const long in = static_cast<long>(g.height) * g.width, out = static_cast<long>(g.out_h) * g.out_w;
  const bool plain2x2 = is_plain2x2(g);
#pragma omp parallel for schedule(static) if (planes * in > (1 << 14))
  for (long p = 0; p < planes; ++p) {
    if (plain2x2) pool_detail::pool2x2_forward(x + p * in, y + p * out, argmax + p * out, g);
    else pool_detail::window_forward(x + p * in, y + p * out, argmax + p * out, g);
  }
}

// dx of `planes` planes: each input gets the gradients of the outputs whose argmax it is.
template <class Geo>
inline void max_pool_backward_planes(const float* dy, const int* argmax, float* dx, long planes, const Geo& g) {
  const long in = static_cast<long>(g.height) * g.width, out = static_cast<long>(g.out_h) * g.out_w;
  const bool plain2x2 = is_plain2x2(g);
#pragma omp parallel for schedule(static) if (planes * in > (1 << 14))
  for (long p = 0; p < planes; ++p) {
    float* dp = dx + p * in;
    const float* gp = dy + p * out;
    const int* ap = argmax + p * out;
    if (plain2x2 && pool_detail::pool2x2_backward(gp, ap, dp, g)) continue;
    for (long i = 0; i < in; ++i) dp[i] = 0.f;
    for (long o = 0; o < out; ++o) dp[ap[o]] += gp[o];
  }
}

// The kernel set's run-time form, for plain 2x2/2 windows (is_plain2x2).
inline void max_pool_2x2_forward_simd(const float* x, float* y, int* argmax, long planes, const WindowGeometry& g) {
  max_pool_forward_planes(x, y, argmax, planes, g);
}
inline void max_pool_2x2_backward_simd(const float* dy, const int* argmax, float* dx, long planes,
                                       const WindowGeometry& g) {
  max_pool_backward_planes(dy, argmax, dx, planes, g);
}

// The kernel set's run-time form for windows inside the plane of 3x3 (stride 2 or 3) and 4x4
// (stride 4); false (nothing done) for any other window.
inline bool max_pool_window_forward_simd(const float* x, float* y, int* argmax, long planes, const WindowGeometry& g) {
  using Kernel = void (*)(const float*, float*, int*, int, int, int);
  Kernel kernel = nullptr;
  if (!windows_inside(g) || g.kh != g.kw) return false;
  if (g.kh == 3 && g.stride == 2) kernel = &pool_detail::window_inside<3, 2>;
  else if (g.kh == 3 && g.stride == 3) kernel = &pool_detail::window_inside<3, 3>;
  else if (g.kh == 4 && g.stride == 4) kernel = &pool_detail::window_inside<4, 4>;
  else return false;
  const long in = static_cast<long>(g.height) * g.width, out = g.pixels();
#pragma omp parallel for schedule(static) if (planes * in > (1 << 14))
  for (long p = 0; p < planes; ++p) kernel(x + p * in, y + p * out, argmax + p * out, g.width, g.out_h, g.out_w);
  return true;
}
inline bool max_pool_window_forward(const float* x, float* y, int* argmax, long planes, const WindowGeometry& g) {
  return FERNET_KERNEL(max_pool_window_forward)(x, y, argmax, planes, g);
}

// Max pooling of `planes` planes with a compile-time geometry: in a FERNET_DISPATCH build the
// plain 2x2 window and the windows inside the plane from the kernel set chosen at run time,
// everything else compiled here.
template <WindowGeometry G>
inline void max_pool_forward(const float* x, float* y, int* argmax, long planes) {
#ifdef FERNET_KERNEL_DISPATCH
  if constexpr (is_plain2x2(G)) return FERNET_KERNEL(max_pool_2x2_forward)(x, y, argmax, planes, G);
  if constexpr (windows_inside(G))
    if (max_pool_window_forward(x, y, argmax, planes, G)) return;
#endif
  max_pool_forward_planes(x, y, argmax, planes, FixedWindow<G>{});
}
template <WindowGeometry G>
inline void max_pool_backward(const float* dy, const int* argmax, float* dx, long planes) {
#ifdef FERNET_KERNEL_DISPATCH
  if constexpr (is_plain2x2(G)) return FERNET_KERNEL(max_pool_2x2_backward)(dy, argmax, dx, planes, G);
#endif
  max_pool_backward_planes(dy, argmax, dx, planes, FixedWindow<G>{});
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
