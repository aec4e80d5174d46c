#pragma once
// The forward pass of a convolution with one input channel, stride 1 and no padding (NetAdam's
// first layer), slid over the image directly. An im2col matrix of K*K rows makes a product too
// thin to pay (K*K steps per 6x16 tile of C, then the tile's store and a second pass that
// scatters C and adds the bias). Each output is the product's sum in the product's order (FMA
// over ky, kx from 0, then + bias), so the values are bit for bit those of im2col + the GEMM of
// the same instruction set.
//
// The geometry comes as FixedWindow<G> (compile-time sizes: the layers of a native build) or
// as a WindowGeometry (the kernel set's run-time form for a FERNET_DISPATCH build, whose GEMM
// is chosen at run time too, so that the two stay bit for bit equal).
#include <algorithm>
#include <cstddef>

#include "../parallel.hpp"
#include "../simd.hpp"
#include "geometry.hpp"
#include "kernel_set.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

namespace direct_conv_detail {
// Blocking: G channels x J vectors of one output row at a time, G * J independent FMA chains
// (one chain alone waits for the FMA's latency at every step); each weight is broadcast once
// per J vectors and each input vector loaded once per G channels.
inline constexpr int channels_per_block = 2, vectors_per_block = 6;

// Output channels o0 .. o0 + G - 1 of one sample (xs: H x W, ys: its output's channel o0).
// J: vectors per block, vectors_per_block or fewer where a row has fewer.
template <int G, int J, class Geo>
inline void channels(const float* xs, const float* w, const float* bias, float* ys, const Geo& g) {
  constexpr int V = static_cast<int>(simd_width);
  const int K = g.kh, W = g.width, Ho = g.out_h, Wo = g.out_w, P = Ho * Wo;
  const int vectors = (Wo + V - 1) / V;  // per row, the last one overlapping the one before
  for (int h = 0; h < Ho; ++h)
    for (int v0 = 0; v0 < vectors; v0 += J) {
      int col[J];
      for (int j = 0; j < J; ++j) col[j] = std::min(std::min(v0 + j, vectors - 1) * V, Wo - V);
      simd_batch acc[G][J];
      for (int c = 0; c < G; ++c)
        for (int j = 0; j < J; ++j) acc[c][j] = simd_batch(0.f);
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx) {
          const float* row = xs + (h + ky) * W + kx;
          simd_batch wb[G];
          for (int c = 0; c < G; ++c) wb[c] = simd_batch(w[c * K * K + ky * K + kx]);
          for (int j = 0; j < J; ++j) {
            const simd_batch v = simd_batch::load_unaligned(row + col[j]);
            for (int c = 0; c < G; ++c) acc[c][j] = xsimd::fma(wb[c], v, acc[c][j]);
          }
        }
      for (int c = 0; c < G; ++c)
        for (int j = 0; j < J; ++j) {
          if (bias) acc[c][j] += simd_batch(bias[c]);
          acc[c][j].store_unaligned(ys + c * P + h * Wo + col[j]);
        }
    }
}
// Output channels o0 .. o0 + count - 1 (count <= G) of one sample, from their weights w and
// bias (or null): G at a time where the block is whole, else one by one.
template <int J, class Geo>
inline void channel_block(const float* xs, const float* w, const float* bias, float* ys, int count, const Geo& g) {
  constexpr int G = channels_per_block;
  const int KK = g.kh * g.kw;
  const std::ptrdiff_t P = static_cast<std::ptrdiff_t>(g.out_h) * g.out_w;
  if (count == G) {
    channels<G, J>(xs, w, bias, ys, g);
  } else {
    for (int o = 0; o < count; ++o) channels<1, J>(xs, w + o * KK, bias ? bias + o : nullptr, ys + o * P, g);
  }
}
// Calls f.template operator()<J>() with J the vectors per block for output rows of g.out_w.
template <class Geo, class F>
inline void with_row_blocking(const Geo& g, F&& f) {
  const int vectors = (g.out_w + static_cast<int>(simd_width) - 1) / static_cast<int>(simd_width);
  switch (std::min(vectors, vectors_per_block)) {
    case 1: return f.template operator()<1>();
    case 2: return f.template operator()<2>();
    case 3: return f.template operator()<3>();
    case 4: return f.template operator()<4>();
    case 5: return f.template operator()<5>();
    default: return f.template operator()<vectors_per_block>();
  }
}
template <int J, class Geo>
inline void forward_blocks(const float* x, const float* w, const float* bias, float* y, int n, int cout, const Geo& g) {
  constexpr int G = channels_per_block;
  const int groups = (cout + G - 1) / G, KK = g.kh * g.kw;
  const std::ptrdiff_t in = static_cast<std::ptrdiff_t>(g.height) * g.width;
  const std::ptrdiff_t P = static_cast<std::ptrdiff_t>(g.out_h) * g.out_w;
#pragma omp parallel for collapse(2) schedule(static) if (static_cast <long>(n) * cout * P > (1 << 15) && !omp_in_parallel())
  for (int s = 0; s < n; ++s)
    for (int b = 0; b < groups; ++b) {
      const int o0 = b * G;
      channel_block<J>(x + s * in, w + o0 * KK, bias ? bias + o0 : nullptr,
                       y + (static_cast<std::ptrdiff_t>(s) * cout + o0) * P, std::min(G, cout - o0), g);
    }
}
}  // namespace direct_conv_detail

// Whether the direct form applies: one channel in, stride 1, no padding (the shape), and rows of
// a vector or more (this instruction set's vector).
template <class Geo>
constexpr bool direct_conv_shape(const Geo& g) {
  return g.channels == 1 && g.stride == 1 && g.pad_top == 0 && g.pad_left == 0 && g.kh == g.kw &&
         g.out_h == g.height - g.kh + 1 && g.out_w == g.width - g.kw + 1;
}
template <class Geo>
constexpr bool direct_conv_applies(const Geo& g) {
  return direct_conv_shape(g) && g.out_w >= static_cast<int>(simd_width);
}

// y (n x cout x Ho x Wo) from x (n x 1 x H x W), weights cout x K x K, bias (or null).
template <class Geo>
inline void direct_conv_forward_planes(const float* x, const float* w, const float* bias, float* y, int n, int cout,
                                       const Geo& g) {
  direct_conv_detail::with_row_blocking(
      g, [&]<int J>() { direct_conv_detail::forward_blocks<J>(x, w, bias, y, n, cout, g); });
}

// The kernel set's run-time form; false (nothing done) where the direct form does not apply.
inline bool direct_conv_forward_simd(const float* x, const float* w, const float* bias, float* y, int n, int cout,
                                     const WindowGeometry& g) {
  if (!direct_conv_applies(g)) return false;
  direct_conv_forward_planes(x, w, bias, y, n, cout, g);
  return true;
}

// The direct forward with a compile-time geometry, from the kernel set chosen at run time in a
// FERNET_DISPATCH build; false where it does not apply (the caller runs im2col + GEMM).
template <WindowGeometry Geometry>
inline bool direct_conv_forward(const float* x, const float* w, const float* bias, float* y, int n, int cout) {
  constexpr FixedWindow<Geometry> fixed{};
  if constexpr (!direct_conv_shape(fixed)) {
    return false;
  } else {
#ifdef FERNET_KERNEL_DISPATCH
    return FERNET_KERNEL(direct_conv_forward)(x, w, bias, y, n, cout, Geometry);
#else
    if (!direct_conv_applies(fixed)) return false;
    direct_conv_forward_planes(x, w, bias, y, n, cout, fixed);
    return true;
#endif
  }
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
