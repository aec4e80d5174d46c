#pragma once
// Half-precision (IEEE 754 binary16) weights for inference. A forward pass of one image through
// NetAdam spends 30-40% of its time streaming fc1's 8 MB of float32 weights (from memory on the
// Xeon, from L3 on the Zen 5 EPYC; benchmarks/NOTES.md); stored as halves they are 4 MB. Only the storage is half: every product
// and sum is float32, and converting a half to a float is exact, so the one rounding is that of
// each weight to 11 significant bits (relative error at most 2^-11).
//
// The conversions are written out (round to nearest, ties to even: what F16C's vcvtps2ph does,
// checked against it in tests/test_half.cpp), so that every build and processor rounds alike;
// the product uses vcvtph2ps where the translation unit is compiled for it (F16C in x86-64-v3,
// its 16-lane AVX-512 form in v4) and the same conversion in plain code elsewhere.
#include <bit>
#include <cstddef>
#include <cstdint>

#if defined(__AVX512F__) || (defined(__F16C__) && defined(__AVX2__) && defined(__FMA__))
#include <immintrin.h>
#endif
#if defined(__F16C__) && defined(__AVX2__) && defined(__FMA__)
#define FERNET_HALF_F16C 1
#endif

#include "../parallel.hpp"
#include "../simd.hpp"
#include "kernel_set.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

// float -> half, rounding to nearest (ties to even); overflow gives infinity, NaN stays NaN.
inline std::uint16_t float_to_half(float value) {
  std::uint32_t bits = std::bit_cast<std::uint32_t>(value);
  const auto sign = static_cast<std::uint16_t>((bits >> 16) & 0x8000u);
  bits &= 0x7fffffffu;
  if (bits >= 0x47800000u)  // |value| >= 65536 (beyond the largest half), infinity or NaN
    return sign | (bits > 0x7f800000u ? 0x7e00u : 0x7c00u);
  if (bits < 0x38800000u) {  // below 2^-14, the smallest normal half: subnormal or zero
    // Adding 0.5 places the half's 10 subnormal bits at the bottom of the float's significand,
    // and the float addition rounds them to nearest even.
    const float shifted = std::bit_cast<float>(bits) + 0.5f;
    return sign | static_cast<std::uint16_t>(std::bit_cast<std::uint32_t>(shifted) - 0x3f000000u);
  }
  // Normal: rebias the exponent (127 -> 15) and drop 13 significand bits, rounding half to even
  // (0xfff plus the lowest kept bit). A carry out of the significand raises the exponent, and
  // from the largest binade it reaches 0x7c00, infinity, as it should.
  const std::uint32_t odd = (bits >> 13) & 1u;
  return sign | static_cast<std::uint16_t>((bits - 0x38000000u + 0xfffu + odd) >> 13);
}

// half -> float, exact.
inline float half_to_float(std::uint16_t half) {
  const std::uint32_t sign = static_cast<std::uint32_t>(half & 0x8000u) << 16;
  const std::uint32_t exponent = (half >> 10) & 0x1fu, significand = half & 0x3ffu;
  if (exponent == 0x1f) return std::bit_cast<float>(sign | 0x7f800000u | (significand << 13));
  if (exponent == 0) {  // zero or subnormal: significand x 2^-24, exact in float
    const float magnitude = static_cast<float>(significand) * 0x1p-24f;
    return std::bit_cast<float>(sign | std::bit_cast<std::uint32_t>(magnitude));
  }
  return std::bit_cast<float>(sign | ((exponent + 112u) << 23) | (significand << 13));
}

inline void floats_to_halves(const float* x, std::uint16_t* h, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) h[i] = float_to_half(x[i]);
}
inline void halves_to_floats(const std::uint16_t* h, float* x, std::size_t count) {
  for (std::size_t i = 0; i < count; ++i) x[i] = half_to_float(h[i]);
}

namespace half_detail {
// A block of R weight rows times G samples: each weight vector is converted once and used G
// times, each sample vector loaded once and used R times, and the R x G accumulators are
// independent chains that hide the FMA latency. Eight rows are read at once: eight streams
// keep more loads in flight than four (NetAdam's fc1 at batch 1 on a Zen 5 EPYC, weights in
// L3: 4 rows 64 us, 8 rows 47-50 us, the float32 product 73-81 us). The block stays in L1/L2
// for the next group of samples, so W is read from memory once whatever n is.
constexpr int rows = 8, group = 4;

// Only the conversion is written per instruction set; the arithmetic is xsimd's batch of this
// translation unit (16 lanes with AVX-512, 8 with AVX2).
#if XSIMD_WITH_AVX512F
#define FERNET_HALF_VECTOR 1
inline simd_batch load_halves(const std::uint16_t* p) {
  return _mm512_cvtph_ps(_mm256_loadu_si256(reinterpret_cast<const __m256i*>(p)));
}
#elif XSIMD_WITH_AVX2 && defined(FERNET_HALF_F16C)
#define FERNET_HALF_VECTOR 1
inline simd_batch load_halves(const std::uint16_t* p) {
  return _mm256_cvtph_ps(_mm_loadu_si128(reinterpret_cast<const __m128i*>(p)));
}
#endif
constexpr int lanes = static_cast<int>(simd_width);

#ifdef FERNET_HALF_VECTOR
// y[s * ldy + r] = x_s . w_r for R rows of w (row stride k) and G samples of x (stride ldx).
template <int R, int G>
inline void dot_block(const float* x, int ldx, const std::uint16_t* w, int k, float* y, int ldy) {
  // One sample: two accumulators per row where the registers allow (AVX-512's 32).
  constexpr int U = G == 1 && lanes == 16 ? 2 : 1;
  simd_batch acc[R][G][U];
  for (auto& a : acc)
    for (auto& b : a)
      for (auto& c : b) c = simd_batch(0.f);
  int i = 0;
  for (; i + U * lanes <= k; i += U * lanes)
    for (int u = 0; u < U; ++u) {
      simd_batch wv[R];
      for (int r = 0; r < R; ++r) wv[r] = load_halves(w + static_cast<std::ptrdiff_t>(r) * k + i + u * lanes);
      for (int s = 0; s < G; ++s) {
        const auto xv = simd_batch::load_unaligned(x + static_cast<std::ptrdiff_t>(s) * ldx + i + u * lanes);
        for (int r = 0; r < R; ++r) acc[r][s][u] = xsimd::fma(wv[r], xv, acc[r][s][u]);
      }
    }
  for (int r = 0; r < R; ++r)
    for (int s = 0; s < G; ++s) {
      simd_batch total = acc[r][s][0];
      for (int u = 1; u < U; ++u) total += acc[r][s][u];
      float dot = xsimd::hadd(total);
      const float* xs = x + static_cast<std::ptrdiff_t>(s) * ldx;
      const std::uint16_t* wr = w + static_cast<std::ptrdiff_t>(r) * k;
      for (int j = i; j < k; ++j) dot += xs[j] * half_to_float(wr[j]);
      y[static_cast<std::ptrdiff_t>(s) * ldy + r] = dot;
    }
}
#endif

// The same in plain code (no F16C, or the scalar path of simd.hpp's switch).
template <int R, int G>
inline void dot_block_plain(const float* x, int ldx, const std::uint16_t* w, int k, float* y, int ldy) {
  for (int r = 0; r < R; ++r) {
    const std::uint16_t* wr = w + static_cast<std::ptrdiff_t>(r) * k;
    float dot[G] = {};
    for (int i = 0; i < k; ++i) {
      const float wi = half_to_float(wr[i]);
      for (int s = 0; s < G; ++s) dot[s] += x[static_cast<std::ptrdiff_t>(s) * ldx + i] * wi;
    }
    for (int s = 0; s < G; ++s) y[static_cast<std::ptrdiff_t>(s) * ldy + r] = dot[s];
  }
}

// R rows (at offset r0 of the block w) against G samples from sample s.
template <int R, int G>
inline void block(int s, int r0, int in, int out, const float* x, const std::uint16_t* w, float* y) {
  const float* xs = x + static_cast<std::ptrdiff_t>(s) * in;
  const std::uint16_t* wr = w + static_cast<std::ptrdiff_t>(r0) * in;
  float* ys = y + static_cast<std::ptrdiff_t>(s) * out + r0;
#ifdef FERNET_HALF_VECTOR
  if (simd_enabled()) return dot_block<R, G>(xs, in, wr, in, ys, out);
#endif
  dot_block_plain<R, G>(xs, in, wr, in, ys, out);
}

// R rows against all n samples: groups of `group` samples four rows at a time (R x G
// accumulators must fit the registers), single samples all R rows at once.
template <int R>
inline void rows_times_samples(int n, int in, int out, const float* x, const std::uint16_t* w, float* y) {
  constexpr int half_rows = R > 4 ? 4 : R;
  int s = 0;
  for (; s + group <= n; s += group)
    for (int r0 = 0; r0 < R; r0 += half_rows) block<half_rows, group>(s, r0, in, out, x, w, y);
  for (; s < n; ++s) block<R, 1>(s, 0, in, out, x, w, y);
}
}  // namespace half_detail

// Y[n x out] = X[n x in] W^T, W stored out x in as halves (a linear layer without its bias).
// Each output is one thread's dot product in a fixed order: the result does not depend on the
// thread count. Meant for small n (latency): the weights are streamed once, but the products
// run well below the packed GEMM's rate, so large batches convert W and use gemm().
inline void linear_half_simd(int n, int out, int in, const float* x, const std::uint16_t* w, float* y) {
  using namespace half_detail;
  if (n <= 0 || out <= 0) return;
  const int blocks = (out + rows - 1) / rows;
  const bool par = !omp_in_parallel() && static_cast<long>(out) * in > (1 << 16);
#pragma omp parallel for schedule(static) if (par)
  for (int b = 0; b < blocks; ++b) {
    const int o = b * rows;
    const std::uint16_t* wb = w + static_cast<std::ptrdiff_t>(o) * in;
    if (o + rows <= out) {
      rows_times_samples<rows>(n, in, out, x, wb, y + o);
    } else {
      for (int r = o; r < out; ++r)
        rows_times_samples<1>(n, in, out, x, w + static_cast<std::ptrdiff_t>(r) * in, y + r);
    }
  }
}

inline void linear_half(int n, int out, int in, const float* x, const std::uint16_t* w, float* y) {
  FERNET_KERNEL(linear_half)(n, out, in, x, w, y);
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
