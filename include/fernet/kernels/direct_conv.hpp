#pragma once
// Convolutions with stride 1 and no padding, slid over the input directly instead of through an
// im2col matrix. Two forms:
// - one input channel (NetAdam's first layer): an im2col matrix of K*K rows makes a product too
//   thin to pay (K*K steps per 6x16 tile of C, then the tile's store and a second pass that
//   scatters C and adds the bias); each output row is computed in vectors along the row.
// - several input channels (NetAdam's conv2 and conv3): im2col writes, and the GEMM packs
//   again, K*K*C floats per output pixel (1 MB per sample for conv2, for 16 MFLOP), which held
//   conv2 at under half the FMA peak. Here a register tile of MP output pixels x NO vectors of
//   output channels is summed over k = (c, ky, kx), each pixel's input broadcast from the image
//   itself and the weights (packed k-major once per call) loaded as vectors, as onnxruntime's
//   NCHWc kernels do; the pixel-major tiles are then transposed into planes. Vectors read along
//   the image's rows instead (the output in planes directly) straddle cache lines at nearly every
//   load and measured 35% slower.
// Each output is the product's sum in the product's order (FMA over k = (c, ky, kx) from 0,
// restarted every KC steps and added as the GEMM's k-blocks are, then + bias), so the values are
// bit for bit those of im2col + the GEMM of the same instruction set.
//
// The geometry comes as FixedWindow<G> (compile-time sizes: the layers of a native build) or
// as a WindowGeometry (the kernel set's run-time form for a FERNET_DISPATCH build, whose GEMM
// is chosen at run time too, so that the two stay bit for bit equal).
#include <algorithm>
#include <cstddef>
#include <vector>

#include "../parallel.hpp"
#include "../simd.hpp"
#include "gemm.hpp"
#include "geometry.hpp"
#include "kernel_set.hpp"
#include "transpose.hpp"

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

namespace direct_conv_channels_detail {
constexpr int V = static_cast<int>(simd_width);
// Register tile: MP output pixels x NO vectors of output channels (AVX-512: 6 x 64 channels, 24
// accumulators + 4 weight vectors + 1 broadcast of the 32 registers; 16 registers: 6 x 2
// vectors). 12 pixels x 2 vectors measured the same on conv2 and 10% slower on conv3.
inline constexpr int NO = V >= 16 ? 4 : 2;
inline constexpr int MP = 6;
inline constexpr int OB = NO * V;  // output channels per block
// The GEMM's k-block (gemm.hpp): sums restart every KC products and are added as the GEMM adds.
inline constexpr int KC = gemm_detail::packed::KC;
// Pixels per task (a task: one sample's chunk of pixels x one block of channels).
inline constexpr int chunk_pixels = 8 * MP;

// Output pixels pix[0..MP) (their input offsets in the sample, xs) x channel block wb (KK x OB,
// k-major): the sums over k in [k0, k1) of xs[pix[j] + off[k]] * wb[k*OB + o], into t (row j at
// t + j*ldt); rows j < skip are computed but not stored (pixels another tile stores).
inline void tile(const float* xs, const int* pix, const int* off, const float* wb, int k0, int k1, float* t, int ldt,
                 int skip) {
  const float* px[MP];
  for (int j = 0; j < MP; ++j) px[j] = xs + pix[j];
  simd_batch acc[MP][NO];
#pragma GCC unroll 16
  for (int j = 0; j < MP; ++j)
#pragma GCC unroll 4
    for (int v = 0; v < NO; ++v) acc[j][v] = simd_batch(0.f);
  for (int k = k0; k < k1; ++k) {
    const int o = off[k];
    const float* w = wb + static_cast<std::ptrdiff_t>(k) * OB;
    simd_batch wv[NO];
#pragma GCC unroll 4
    for (int v = 0; v < NO; ++v) wv[v] = simd_batch::load_aligned(w + v * V);
#pragma GCC unroll 16
    for (int j = 0; j < MP; ++j) {
      const simd_batch a(px[j][o]);
#pragma GCC unroll 4
      for (int v = 0; v < NO; ++v) acc[j][v] = xsimd::fma(a, wv[v], acc[j][v]);
    }
  }
#pragma GCC unroll 16
  for (int j = 0; j < MP; ++j)
    if (j >= skip)
#pragma GCC unroll 4
      for (int v = 0; v < NO; ++v) acc[j][v].store_aligned(t + j * ldt + v * V);
}

using aligned_floats = std::vector<float, xsimd::aligned_allocator<float, 64>>;

// Output pixels [p0, p1) of one sample, channels of block wb (from bias: their bias, or null; ys:
// the first one's plane): pixel-major into t, then t's transpose into the planes, plus the bias.
// The last tile ends at p1, overlapping the one before (its first pixels are not stored).
template <class Geo>
inline void chunk(const float* xs, const int* off, const float* wb, const float* bias, float* ys, int channels, int p0,
                  int p1, const Geo& g, aligned_floats& t, aligned_floats& t2) {
  const int kk = static_cast<int>(g.rows()), W = g.width, Wo = g.out_w, count = p1 - p0;
  const std::size_t size = static_cast<std::size_t>(count) * OB;
  t.resize(size);
  for (int kc0 = 0; kc0 < kk; kc0 += KC) {
    // The GEMM's k-blocks: the first block's sums in t, each later one's in t2, then added.
    if (kc0 > 0) t2.resize(size);
    float* cur = kc0 == 0 ? t.data() : t2.data();
    for (int b0 = 0; b0 < count; b0 += MP) {
      const int first = std::min(b0, count - MP);
      int pix[MP];
      for (int j = 0; j < MP; ++j) {
        const int p = p0 + first + j;
        pix[j] = p / Wo * W + p % Wo;
      }
      tile(xs, pix, off, wb, kc0, std::min(kk, kc0 + KC), cur + first * OB, OB, b0 - first);
    }
    if (kc0 > 0)
      for (std::size_t i = 0; i < size; ++i) t[i] = t2[i] + t[i];
  }
  transpose_add_bias(t.data(), OB, count, channels, bias, ys + p0, static_cast<std::ptrdiff_t>(g.out_h) * Wo);
}

template <class Geo>
inline void forward(const float* x, const float* w, const float* bias, float* y, int n, int cout, const Geo& g) {
  const int kk = static_cast<int>(g.rows()), blocks = (cout + OB - 1) / OB, K = g.kh;
  const int P = g.out_h * g.out_w;
  const std::ptrdiff_t in = static_cast<std::ptrdiff_t>(g.channels) * g.height * g.width;
  // The weights k-major in blocks of OB output channels (channels past cout zero), and each
  // k's offset into the sample's input.
  thread_local aligned_floats wp;
  thread_local std::vector<int> off;
  wp.resize(static_cast<std::size_t>(blocks) * kk * OB);
  off.resize(kk);
  if (cout % OB != 0) std::fill(wp.end() - static_cast<std::ptrdiff_t>(kk) * OB, wp.end(), 0.f);
  for (int b = 0; b < blocks; ++b)
    transpose_add_bias(w + static_cast<std::ptrdiff_t>(b) * OB * kk, kk, std::min(OB, cout - b * OB), kk, nullptr,
                       wp.data() + static_cast<std::ptrdiff_t>(b) * kk * OB, OB);
  for (int k = 0; k < kk; ++k) {
    const int c = k / (K * K), ky = k / K % K, kx = k % K;
    off[k] = (c * g.height + ky) * g.width + kx;
  }
  const float* wpd = wp.data();
  const int* offd = off.data();
  // Tasks: (sample, chunk of pixels, block of channels), so that batch 1 has work for threads.
  // Chunks of chunk_pixels, the last one with the remainder (a plane has at least MP pixels).
  const int chunks = std::max(1, P / chunk_pixels);
  // Threads from the GEMM's threshold on (about 2 MFLOP): one sample of conv2 has 8 MFLOP.
#pragma omp parallel if (static_cast <long>(n) * cout * P * kk >= (1L << 20) && !omp_in_parallel())
  {
    thread_local aligned_floats t, t2;
#pragma omp for collapse(3) schedule(static)
    for (int s = 0; s < n; ++s)
      for (int c = 0; c < chunks; ++c)
        for (int b = 0; b < blocks; ++b) {
          const int p0 = c * chunk_pixels, p1 = c == chunks - 1 ? P : p0 + chunk_pixels, o0 = b * OB;
          chunk(x + s * in, offd, wpd + static_cast<std::ptrdiff_t>(b) * kk * OB, bias ? bias + o0 : nullptr,
                y + (static_cast<std::ptrdiff_t>(s) * cout + o0) * P, std::min(OB, cout - o0), p0, p1, g, t, t2);
        }
  }
}
}  // namespace direct_conv_channels_detail

// Stride 1, no padding, a square window: the shapes both direct forms take.
template <class Geo>
constexpr bool direct_conv_valid_window(const Geo& g) {
  return g.stride == 1 && g.pad_top == 0 && g.pad_left == 0 && g.kh == g.kw && g.out_h == g.height - g.kh + 1 &&
         g.out_w == g.width - g.kw + 1;
}

// Whether the one-channel form applies: one channel in (the shape), and rows of a vector or more
// (this instruction set's vector).
template <class Geo>
constexpr bool direct_conv_shape(const Geo& g) {
  return g.channels == 1 && direct_conv_valid_window(g);
}
template <class Geo>
constexpr bool direct_conv_applies(const Geo& g) {
  return direct_conv_shape(g) && g.out_w >= static_cast<int>(simd_width);
}

// Whether the several-channel form applies: more than one channel in, and planes of at least
// one register tile of pixels.
template <class Geo>
constexpr bool direct_conv_channels_shape(const Geo& g) {
  return g.channels > 1 && direct_conv_valid_window(g);
}
template <class Geo>
constexpr bool direct_conv_channels_applies(const Geo& g) {
  return direct_conv_channels_shape(g) && static_cast<long>(g.out_h) * g.out_w >= direct_conv_channels_detail::MP;
}

// y (n x cout x Ho x Wo) from x (n x 1 x H x W), weights cout x K x K, bias (or null).
template <class Geo>
inline void direct_conv_forward_planes(const float* x, const float* w, const float* bias, float* y, int n, int cout,
                                       const Geo& g) {
  direct_conv_detail::with_row_blocking(
      g, [&]<int J>() { direct_conv_detail::forward_blocks<J>(x, w, bias, y, n, cout, g); });
}

// Either direct form where one applies (y: n x cout x Ho x Wo from x: n x C x H x W, weights
// cout x C x K x K, bias or null); false, nothing done, where neither does.
template <class Geo>
inline bool direct_conv_run(const float* x, const float* w, const float* bias, float* y, int n, int cout,
                            const Geo& g) {
  if (direct_conv_applies(g)) {
    direct_conv_forward_planes(x, w, bias, y, n, cout, g);
    return true;
  }
  if (direct_conv_channels_applies(g)) {
    direct_conv_channels_detail::forward(x, w, bias, y, n, cout, g);
    return true;
  }
  return false;
}

// The kernel set's run-time form.
inline bool direct_conv_forward_simd(const float* x, const float* w, const float* bias, float* y, int n, int cout,
                                     const WindowGeometry& g) {
  return direct_conv_run(x, w, bias, y, n, cout, g);
}

// The direct forward with a compile-time geometry, from the kernel set chosen at run time in a
// FERNET_DISPATCH build; false where it does not apply (the caller runs im2col + GEMM).
template <WindowGeometry Geometry>
inline bool direct_conv_forward(const float* x, const float* w, const float* bias, float* y, int n, int cout) {
  constexpr FixedWindow<Geometry> fixed{};
  if constexpr (!direct_conv_shape(fixed) && !direct_conv_channels_shape(fixed)) {
    return false;
  } else {
#ifdef FERNET_KERNEL_DISPATCH
    return FERNET_KERNEL(direct_conv_forward)(x, w, bias, y, n, cout, Geometry);
#else
    return direct_conv_run(x, w, bias, y, n, cout, fixed);
#endif
  }
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
