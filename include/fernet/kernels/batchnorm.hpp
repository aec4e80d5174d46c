#pragma once
// Batch norm's passes over one channel: its `n` planes of `plane` floats, `stride` floats apart
// (one per sample). The CPU layer (layers/batchnorm.hpp) runs them channel by channel across
// threads. Each plane is summed in float vector lanes, the planes in double. NAME_simd is
// compiled for this translation unit's instruction set, NAME runs the set chosen at run time
// (kernel_set.hpp): in a FERNET_DISPATCH build the layers are compiled for the baseline, where
// these passes ran 4 lanes wide without FMA. Planes narrower than a vector (ResNet's 3x3, 2x2)
// keep the scalar loops.
#include <cstddef>

#include "../simd.hpp"
#include "kernel_set.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

namespace batchnorm_detail {
inline bool vector_plane(int plane) { return plane >= static_cast<int>(simd_width) && simd_enabled(); }

// Sum of f(x[k]) over one plane: vector lanes then the tail, in float.
template <class F>
float plane_sum(const float* xc, int plane, F f) {
  int k = 0;
  float total = 0.f;
  if (vector_plane(plane)) {
    constexpr int w = static_cast<int>(simd_width);
    simd_batch acc(0.f);
    for (; k + w <= plane; k += w) acc += f(simd_batch::load_unaligned(xc + k));
    total = xsimd::hadd(acc);
  }
  for (; k < plane; ++k) total += f(xc[k]);
  return total;
}
}  // namespace batchnorm_detail

// The channel's mean and biased variance, in two passes (mean, then squared deviations from
// it), which stay accurate when |mean| >> std.
inline void batchnorm_statistics_simd(const float* x, std::ptrdiff_t stride, int n, int plane, double* mean,
                                      double* var) {
  using batchnorm_detail::plane_sum;
  const double count = static_cast<double>(n) * plane;
  double s = 0.0;
  for (int i = 0; i < n; ++i) s += plane_sum(x + i * stride, plane, [](auto v) { return v; });
  *mean = s / count;
  const float m = static_cast<float>(*mean);
  double ss = 0.0;
  for (int i = 0; i < n; ++i)
    ss += plane_sum(x + i * stride, plane, [m](auto v) {
      const auto d = v - decltype(v)(m);
      return d * d;
    });
  *var = ss / count;
}

// y = x * scale + shift over the channel (y laid out as x).
inline void batchnorm_scale_shift_simd(const float* x, float* y, std::ptrdiff_t stride, int n, int plane, float scale,
                                       float shift) {
  for (int i = 0; i < n; ++i) {
    const float* xc = x + i * stride;
    float* yc = y + i * stride;
    int k = 0;
    if (batchnorm_detail::vector_plane(plane)) {
      constexpr int w = static_cast<int>(simd_width);
      const simd_batch vs(scale), vt(shift);
      for (; k + w <= plane; k += w) xsimd::fma(simd_batch::load_unaligned(xc + k), vs, vt).store_unaligned(yc + k);
    }
    for (; k < plane; ++k) yc[k] = xc[k] * scale + shift;
  }
}

// One pass for both of backward's sums: sum(dy) and sum(dy * (x - mean)).
inline void batchnorm_backward_sums_simd(const float* x, const float* dy, std::ptrdiff_t stride, int n, int plane,
                                         float mean, double* sum_dy, double* sum_dy_centered) {
  double sa = 0.0, sb = 0.0;
  for (int i = 0; i < n; ++i) {
    const float* xc = x + i * stride;
    const float* gc = dy + i * stride;
    float a = 0.f, b = 0.f;
    int k = 0;
    if (batchnorm_detail::vector_plane(plane)) {
      constexpr int w = static_cast<int>(simd_width);
      simd_batch va(0.f), vb(0.f);
      const simd_batch vm(mean);
      for (; k + w <= plane; k += w) {
        const simd_batch g = simd_batch::load_unaligned(gc + k);
        va += g;
        vb = xsimd::fma(g, simd_batch::load_unaligned(xc + k) - vm, vb);
      }
      a = xsimd::hadd(va);
      b = xsimd::hadd(vb);
    }
    for (; k < plane; ++k) {
      a += gc[k];
      b += gc[k] * (xc[k] - mean);
    }
    sa += a;
    sb += b;
  }
  *sum_dy = sa;
  *sum_dy_centered = sb;
}

// dx = gi * (dy - k1 - xhat * k2), xhat = (x - mean) * invstd: training's input gradient with
// k1 = mean(dy), k2 = mean(dy * xhat); evaluation's with k1 = k2 = 0.
inline void batchnorm_backward_input_simd(const float* x, const float* dy, float* dx, std::ptrdiff_t stride, int n,
                                          int plane, float mean, float invstd, float gi, float k1, float k2) {
  for (int i = 0; i < n; ++i) {
    const float* xc = x + i * stride;
    const float* gc = dy + i * stride;
    float* dc = dx + i * stride;
    int k = 0;
    if (batchnorm_detail::vector_plane(plane)) {
      constexpr int w = static_cast<int>(simd_width);
      const simd_batch vgi(gi), vk1(k1), vk2(k2), vm(mean), vis(invstd);
      for (; k + w <= plane; k += w) {
        const simd_batch xhat = (simd_batch::load_unaligned(xc + k) - vm) * vis;
        (vgi * xsimd::fnma(xhat, vk2, simd_batch::load_unaligned(gc + k) - vk1)).store_unaligned(dc + k);
      }
    }
    for (; k < plane; ++k) {
      const float xhat = (xc[k] - mean) * invstd;
      dc[k] = gi * (gc[k] - k1 - xhat * k2);
    }
  }
}

// ---- the kernels as programs call them ----------------------------------------------------------
inline void batchnorm_statistics(const float* x, std::ptrdiff_t stride, int n, int plane, double* mean, double* var) {
  FERNET_KERNEL(batchnorm_statistics)(x, stride, n, plane, mean, var);
}
inline void batchnorm_scale_shift(const float* x, float* y, std::ptrdiff_t stride, int n, int plane, float scale,
                                  float shift) {
  FERNET_KERNEL(batchnorm_scale_shift)(x, y, stride, n, plane, scale, shift);
}
inline void batchnorm_backward_sums(const float* x, const float* dy, std::ptrdiff_t stride, int n, int plane,
                                    float mean, double* sum_dy, double* sum_dy_centered) {
  FERNET_KERNEL(batchnorm_backward_sums)(x, dy, stride, n, plane, mean, sum_dy, sum_dy_centered);
}
inline void batchnorm_backward_input(const float* x, const float* dy, float* dx, std::ptrdiff_t stride, int n,
                                     int plane, float mean, float invstd, float gi, float k1, float k2) {
  FERNET_KERNEL(batchnorm_backward_input)(x, dy, dx, stride, n, plane, mean, invstd, gi, k1, k2);
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
