#pragma once
// Element-wise kernels over raw float arrays, vectorised with xsimd (scalar twin when
// fernet::use_simd(false)). Large arrays are split across OpenMP threads. Each kernel is
// NAME_simd, compiled for this translation unit's instruction set, and NAME, which runs the
// NAME_simd of the kernel set chosen at run time in a FERNET_DISPATCH build (kernel_set.hpp).
#include <algorithm>
#include <cstddef>
#include <cstdint>

#include "../parallel.hpp"
#include "../simd.hpp"
#include "element_rules.hpp"
#include "kernel_set.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

namespace elementwise_detail {
inline constexpr std::ptrdiff_t parallel_threshold = 1 << 15;

// Runs body(begin, end) over [0, n), in parallel chunks (multiples of the SIMD width) when
// the array is large and we are not already inside a parallel region.
template <class Body>
void chunked(std::ptrdiff_t n, Body&& body) {
  if (n < parallel_threshold || omp_in_parallel()) {
    body(std::ptrdiff_t{0}, n);
    return;
  }
#pragma omp parallel
  {
    const std::ptrdiff_t t = omp_get_thread_num(), nt = omp_get_num_threads();
    const std::ptrdiff_t w = static_cast<std::ptrdiff_t>(simd_width);
    const std::ptrdiff_t per = ((n + nt - 1) / nt + w - 1) / w * w;
    const std::ptrdiff_t b = std::min(n, t * per), e = std::min(n, b + per);
    if (b < e) body(b, e);
  }
}

// Applies vec(batch...) over full SIMD strips and sca(scalar...) over the tail (or everything
// on the scalar path).
template <class Vec, class Sca>
void simd_loop(std::ptrdiff_t n, Vec&& vec, Sca&& sca) {
  chunked(n, [&](std::ptrdiff_t b, std::ptrdiff_t e) {
    std::ptrdiff_t i = b;
    if (simd_enabled()) {
      constexpr std::ptrdiff_t w = static_cast<std::ptrdiff_t>(simd_width);
      for (; i + w <= e; i += w) vec(i);
    }
    for (; i < e; ++i) sca(i);
  });
}
}  // namespace elementwise_detail

inline void relu_forward_simd(const float* x, float* y, std::ptrdiff_t n) {
  elementwise_detail::simd_loop(
      n,
      [&](std::ptrdiff_t i) { xsimd::max(simd_batch::load_unaligned(x + i), simd_batch(0.f)).store_unaligned(y + i); },
      [&](std::ptrdiff_t i) { y[i] = x[i] > 0.f ? x[i] : 0.f; });
}

// dx = dy where y > 0, else 0.
inline void relu_backward_simd(const float* y, const float* dy, float* dx, std::ptrdiff_t n) {
  elementwise_detail::simd_loop(
      n,
      [&](std::ptrdiff_t i) {
        const auto mask = simd_batch::load_unaligned(y + i) > simd_batch(0.f);
        xsimd::select(mask, simd_batch::load_unaligned(dy + i), simd_batch(0.f)).store_unaligned(dx + i);
      },
      [&](std::ptrdiff_t i) { dx[i] = y[i] > 0.f ? dy[i] : 0.f; });
}

// y += x
inline void add_inplace_simd(float* y, const float* x, std::ptrdiff_t n) {
  elementwise_detail::simd_loop(
      n,
      [&](std::ptrdiff_t i) {
        (simd_batch::load_unaligned(y + i) + simd_batch::load_unaligned(x + i)).store_unaligned(y + i);
      },
      [&](std::ptrdiff_t i) { y[i] += x[i]; });
}

// y = a + b
inline void add_simd(const float* a, const float* b, float* y, std::ptrdiff_t n) {
  elementwise_detail::simd_loop(
      n,
      [&](std::ptrdiff_t i) {
        (simd_batch::load_unaligned(a + i) + simd_batch::load_unaligned(b + i)).store_unaligned(y + i);
      },
      [&](std::ptrdiff_t i) { y[i] = a[i] + b[i]; });
}

// Sum in double precision; the vectorised path adds blocks of 1024 in float lanes (the lanes
// hold 64 terms each) and the block sums in double.
inline float sum_simd(const float* x, std::ptrdiff_t n) {
  double s = 0.0;
  std::ptrdiff_t i = 0;
  if (simd_enabled()) {
    constexpr std::ptrdiff_t w = static_cast<std::ptrdiff_t>(simd_width), block = 1024;
    for (; i + w <= n;) {
      const std::ptrdiff_t e = std::min(n, i + block) / w * w;
      simd_batch acc(0.f);
      for (; i < e; i += w) acc += simd_batch::load_unaligned(x + i);
      s += xsimd::hadd(acc);
    }
  }
  for (; i < n; ++i) s += x[i];
  return static_cast<float>(s);
}

// Dropout with the counter-based mask of element_rules.hpp: element `first + i` of the stream
// is kept (and scaled) or zeroed; backward applies the same mask to the gradient.
inline void dropout_forward_simd(const float* x, float* y, std::ptrdiff_t count, std::uint64_t seed,
                                 std::uint32_t threshold, float scale, std::ptrdiff_t first) {
#pragma omp parallel for schedule(static) if (count > (1 << 15) && !omp_in_parallel())
  for (std::ptrdiff_t i = 0; i < count; ++i) y[i] = dropout_keeps(seed, first + i, threshold) ? x[i] * scale : 0.f;
}
inline void dropout_backward_simd(const float* dy, float* dx, std::ptrdiff_t count, std::uint64_t seed,
                                  std::uint32_t threshold, float scale, std::ptrdiff_t first) {
#pragma omp parallel for schedule(static) if (count > (1 << 15) && !omp_in_parallel())
  for (std::ptrdiff_t i = 0; i < count; ++i)
    dx[i] = dropout_keeps(seed, first + i, threshold) ? dy[i] * scale : 0.f;
}

// ---- the kernels as programs call them ----------------------------------------------------------
inline void relu_forward(const float* x, float* y, std::ptrdiff_t n) { FERNET_KERNEL(relu_forward)(x, y, n); }
inline void relu_backward(const float* y, const float* dy, float* dx, std::ptrdiff_t n) {
  FERNET_KERNEL(relu_backward)(y, dy, dx, n);
}
inline void add_inplace(float* y, const float* x, std::ptrdiff_t n) { FERNET_KERNEL(add_inplace)(y, x, n); }
inline void add(const float* a, const float* b, float* y, std::ptrdiff_t n) { FERNET_KERNEL(add)(a, b, y, n); }
inline float sum(const float* x, std::ptrdiff_t n) { return FERNET_KERNEL(sum)(x, n); }
inline void dropout_forward(const float* x, float* y, std::ptrdiff_t count, std::uint64_t seed, std::uint32_t threshold,
                            float scale, std::ptrdiff_t first) {
  FERNET_KERNEL(dropout_forward)(x, y, count, seed, threshold, scale, first);
}
inline void dropout_backward(const float* dy, float* dx, std::ptrdiff_t count, std::uint64_t seed,
                             std::uint32_t threshold, float scale, std::ptrdiff_t first) {
  FERNET_KERNEL(dropout_backward)(dy, dx, count, seed, threshold, scale, first);
}

// Bias over rows, in place: y[r, j] += b[j] (row-major, rows x cols).
inline void add_row_bias(float* y, const float* b, int rows, int cols) {
  for (int r = 0; r < rows; ++r) add_inplace(y + static_cast<std::ptrdiff_t>(r) * cols, b, cols);
}

// db[j] += sum_r dy[r, j]
inline void accumulate_column_sums(const float* dy, float* db, int rows, int cols) {
  for (int r = 0; r < rows; ++r) add_inplace(db, dy + static_cast<std::ptrdiff_t>(r) * cols, cols);
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
