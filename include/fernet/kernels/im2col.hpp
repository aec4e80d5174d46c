#pragma once
// im2col / col2im for one sample: turns a convolution into one matrix product.
// col has (C * KH * KW) rows and (Ho * Wo) columns, rows ld floats apart (ld > Ho * Wo lets
// several samples sit side by side in one wide matrix); padding (possibly asymmetric) reads as 0.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstring>
#include <utility>
#include <vector>

#include "../simd.hpp"
#include "geometry.hpp"
#include "kernel_set.hpp"

namespace fernet::kernels {

inline void im2col(const float* x, const WindowGeometry& g, float* col, std::ptrdiff_t ld) {
  for (int c = 0; c < g.channels; ++c) {
    const float* xc = x + static_cast<std::ptrdiff_t>(c) * g.height * g.width;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        float* row = col + (static_cast<std::ptrdiff_t>(c) * g.kh * g.kw + i * g.kw + j) * ld;
        for (int oh = 0; oh < g.out_h; ++oh) {
          const int h = oh * g.stride - g.pad_top + i;
          float* r = row + oh * g.out_w;
          if (h < 0 || h >= g.height) {
            std::memset(r, 0, sizeof(float) * g.out_w);
            continue;
          }
          const float* xr = xc + h * g.width;
          if (g.stride == 1) {
            // Contiguous run of valid columns, zeros at the padded ends.
            const int w0 = j - g.pad_left;
            int lo = w0 < 0 ? -w0 : 0;
            int hi = g.width - w0;
            if (hi > g.out_w) hi = g.out_w;
            if (lo > g.out_w) lo = g.out_w;
            for (int ow = 0; ow < lo; ++ow) r[ow] = 0.f;
            if (hi > lo) std::memcpy(r + lo, xr + w0 + lo, sizeof(float) * (hi - lo));
            for (int ow = hi > lo ? hi : lo; ow < g.out_w; ++ow) r[ow] = 0.f;
          } else {
            for (int ow = 0; ow < g.out_w; ++ow) {
              const int w = ow * g.stride - g.pad_left + j;
              r[ow] = (w >= 0 && w < g.width) ? xr[w] : 0.f;
            }
          }
        }
      }
    }
  }
}

// dx = col2im(dcol): every column entry is added back to the input pixel it was read from.
inline void col2im(const float* col, const WindowGeometry& g, float* dx, std::ptrdiff_t ld) {
  std::memset(dx, 0, sizeof(float) * g.channels * g.height * g.width);
  for (int c = 0; c < g.channels; ++c) {
    float* dc = dx + static_cast<std::ptrdiff_t>(c) * g.height * g.width;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        const float* row = col + (static_cast<std::ptrdiff_t>(c) * g.kh * g.kw + i * g.kw + j) * ld;
        for (int oh = 0; oh < g.out_h; ++oh) {
          const int h = oh * g.stride - g.pad_top + i;
          if (h < 0 || h >= g.height) continue;
          const float* r = row + oh * g.out_w;
          float* dr = dc + h * g.width;
          for (int ow = 0; ow < g.out_w; ++ow) {
            const int w = ow * g.stride - g.pad_left + j;
            if (w >= 0 && w < g.width) dr[w] += r[ow];
          }
        }
      }
    }
  }
}

}  // namespace fernet::kernels

// ---- stride 1, run-time geometry, AVX-512 -----------------------------------------------------
// The kernel set's form of the compile-time kernels' masked AVX-512 path below, for a
// FERNET_DISPATCH build, whose layers are compiled for the baseline: square windows, stride 1.
// Each returns false, doing nothing, where its instruction set has no such form or the rows
// are wider than 256 values (the caller then runs the compile-time form of its own code).
namespace fernet::kernels {
inline namespace FERNET_ISA {

#if XSIMD_WITH_AVX512F
namespace im2col_detail {
// The lanes of the 16 values from 16 * q whose index lies in [lo, hi).
inline __mmask16 lanes_between(int q, int lo, int hi) {
  const int a = std::clamp(lo - 16 * q, 0, 16), b = std::clamp(hi - 16 * q, 0, 16);
  return static_cast<__mmask16>(b > a ? ((1u << b) - 1) & ~((1u << a) - 1) : 0u);
}
// Plain loads and stores where every lane is wanted: masked ones cost more (kernels/pooling.hpp).
inline __m512 load(__mmask16 m, const float* p) { return m == 0xFFFF ? _mm512_loadu_ps(p) : _mm512_maskz_loadu_ps(m, p); }
inline void store(__mmask16 m, float* p, __m512 v) {
  if (m == 0xFFFF) _mm512_storeu_ps(p, v);
  else _mm512_mask_storeu_ps(p, m, v);
}
// The masks of one call, computed once (computed per segment they took more time than the
// copies): rows of `width` values in 16-lane chunks, store[q] the lanes of chunk q inside the
// row, load[j][q] those whose index lies in range(j) = {lo, hi} for window column j.
struct RowMasks {
  static constexpr int max_chunks = 16, max_k = 16;
  int chunks = 0;
  __mmask16 store[max_chunks], load[max_k][max_chunks];
  // False when the rows or the window are wider than these arrays.
  template <class Range>
  bool make(int width, int K, Range range) {
    chunks = (width + 15) / 16;
    if (chunks > max_chunks || K > max_k) return false;
    for (int q = 0; q < chunks; ++q) {
      store[q] = lanes_between(q, 0, width);
      for (int j = 0; j < K; ++j) {
        const auto [lo, hi] = range(j);
        load[j][q] = lanes_between(q, lo, hi);
      }
    }
    return true;
  }
};

// The copies of im2col_stride1_simd, with the count of 16-lane chunks per row known here
// (Chunks > 0: the chunk loops unroll) or not (Chunks = 0: masks.chunks).
template <int Chunks>
inline void im2col_rows(const float* x, const WindowGeometry& g, float* col, std::ptrdiff_t ld, const RowMasks& masks) {
  const int K = g.kh, H = g.height, W = g.width, Ho = g.out_h, Wo = g.out_w, PT = g.pad_top, PL = g.pad_left;
  const int chunks = Chunks > 0 ? Chunks : masks.chunks;
  for (int c = 0; c < g.channels; ++c) {
    const float* xc = x + static_cast<std::ptrdiff_t>(c) * H * W;
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) {
        float* row = col + (static_cast<std::ptrdiff_t>(c) * K * K + i * K + j) * ld;
        const __mmask16* lm = masks.load[j];
        for (int oh = 0; oh < Ho; ++oh) {
          const int h = oh + i - PT;
          float* d = row + oh * Wo;
          if (h < 0 || h >= H) {
            for (int q = 0; q < chunks; ++q) store(masks.store[q], d + 16 * q, _mm512_setzero_ps());
            continue;
          }
          // Masked-off lanes may point outside the plane: AVX-512 suppresses their faults.
          const float* src = xc + h * W + j - PL;
          for (int q = 0; q < chunks; ++q) store(masks.store[q], d + 16 * q, load(lm[q], src + 16 * q));
        }
      }
  }
}
}  // namespace im2col_detail
#endif

#if XSIMD_WITH_AVX512F
inline bool im2col_stride1_simd(const float* x, const WindowGeometry& g, float* col, std::ptrdiff_t ld) {
  using namespace im2col_detail;
  const int W = g.width, Wo = g.out_w, PL = g.pad_left;
  // Output columns whose window column j lies inside the input row.
  RowMasks masks;
  if (!masks.make(Wo, g.kh, [&](int j) { return std::pair{std::max(0, PL - j), std::min(Wo, W + PL - j)}; }))
    return false;
  switch (masks.chunks) {
    case 1: im2col_rows<1>(x, g, col, ld, masks); break;
    case 2: im2col_rows<2>(x, g, col, ld, masks); break;
    case 3: im2col_rows<3>(x, g, col, ld, masks); break;
    case 4: im2col_rows<4>(x, g, col, ld, masks); break;
    default: im2col_rows<0>(x, g, col, ld, masks);
  }
  return true;
}

// The same order of additions as col2im (bitwise equal results): each dx row summed in
// registers over the window rows i, then columns j, and stored once. col2im_fixed below keeps
// its own copy of this loop for the native build: with its masks as compile-time constants it
// is 5-16% faster on the convolutions' backward passes than this form (bench_layers,
// ab_compare, Zen 5).
inline bool col2im_stride1_simd(const float* col, const WindowGeometry& g, float* dx, std::ptrdiff_t ld) {
  using namespace im2col_detail;
  const int K = g.kh, H = g.height, W = g.width, Ho = g.out_h, Wo = g.out_w, PT = g.pad_top, PL = g.pad_left;
  // Input columns w < W whose output column w + PL - j exists.
  RowMasks masks;
  if (!masks.make(W, K, [&](int j) { return std::pair{std::max(0, j - PL), std::min(W, Wo + j - PL)}; })) return false;
  const int chunks = masks.chunks;
  for (int c = 0; c < g.channels; ++c) {
    float* dc = dx + static_cast<std::ptrdiff_t>(c) * H * W;
    const float* rows = col + static_cast<std::ptrdiff_t>(c) * K * K * ld;
    for (int h = 0; h < H; ++h)
      for (int q = 0; q < chunks; ++q) {
        __m512 acc = _mm512_setzero_ps();
        for (int i = 0; i < K; ++i) {
          const int oh = h + PT - i;
          if (oh < 0 || oh >= Ho) continue;
          for (int j = 0; j < K; ++j) {
            const float* src = rows + (i * K + j) * ld + oh * Wo + (16 * q + PL - j);
            acc = _mm512_add_ps(acc, load(masks.load[j][q], src));
          }
        }
        store(masks.store[q], dc + h * W + 16 * q, acc);
      }
  }
  return true;
}

#else
// No such form below AVX-512: the callers run their compile-time copies.
inline bool im2col_stride1_simd(const float*, const WindowGeometry&, float*, std::ptrdiff_t) { return false; }
inline bool col2im_stride1_simd(const float*, const WindowGeometry&, float*, std::ptrdiff_t) { return false; }
#endif

// The kernel set's form where the processor has one (see above); false otherwise.
inline bool im2col_stride1(const float* x, const WindowGeometry& g, float* col, std::ptrdiff_t ld) {
  return FERNET_KERNEL(im2col_stride1)(x, g, col, ld);
}
inline bool col2im_stride1(const float* col, const WindowGeometry& g, float* dx, std::ptrdiff_t ld) {
  return FERNET_KERNEL(col2im_stride1)(col, g, dx, ld);
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels

// ---- compile-time geometry ----------------------------------------------------------------
// The convolution layers know their geometry at compile time. These versions read from a
// zero-padded copy of each input plane (or from the plane itself when there is no padding),
// so that every im2col row segment is one fixed-length copy without bounds checks: with
// 12 or 21 output columns the generic version above spent most of its time in per-segment
// memcpy calls and edge logic (ResNet-18: 19% of a training step).
namespace fernet::kernels {

namespace detail {
template <WindowGeometry G>
struct fixed_geometry {
  static constexpr int S = G.stride, K = G.kh;
  static_assert(G.kh == G.kw, "square kernels");
  // Extent of the padded plane that the windows actually touch.
  static constexpr int Hp = (G.out_h - 1) * S + K, Wp = (G.out_w - 1) * S + K;
  // Without padding the windows stay inside the plane: read it directly.
  static constexpr bool direct = G.pad_top == 0 && G.pad_left == 0 && Hp <= G.height && Wp <= G.width;
  static constexpr int stride_of_rows = direct ? G.width : Wp;
  static constexpr int plane = G.height * G.width;
};

inline float* thread_scratch(std::size_t n) {
  thread_local std::vector<float> buf;
  if (buf.size() < n) buf.resize(n);
  return buf.data();
}
}  // namespace detail

template <WindowGeometry G>
inline void im2col_fixed(const float* x, float* col, std::ptrdiff_t ld) {
  using F = detail::fixed_geometry<G>;
  constexpr int S = F::S, K = F::K, Ho = G.out_h, Wo = G.out_w, H = G.height, W = G.width;
  constexpr int PT = G.pad_top, PL = G.pad_left;
#ifdef FERNET_KERNEL_DISPATCH
  // Rows of at least a vector: narrower ones (ResNet's 12x12 .. 2x2 planes) spend more on the
  // run-time form's per-call masks than its vectors save (ResNet-18 training 0.99 -> 0.91 of
  // the native build's speed with them on every stride-1 convolution; benchmarks/NOTES.md).
  if constexpr (S == 1 && Wo >= 16)
    if (im2col_stride1(x, G, col, ld)) return;
#endif
#if XSIMD_WITH_AVX512F
  if constexpr (S == 1) {
    // Straight from the input: each segment is a masked load (zero where the window hangs
    // over the left/right padding) and a masked store; rows in the top/bottom padding are 0.
    constexpr int chunks = (Wo + 15) / 16;
    std::array<std::array<__mmask16, K>, chunks> masks{};
    std::array<__mmask16, chunks> store_masks{};
    for (int q = 0; q < chunks; ++q)
      for (int lane = 0; lane < 16; ++lane) {
        const int ow = 16 * q + lane;
        if (ow >= Wo) continue;
        store_masks[q] = static_cast<__mmask16>(store_masks[q] | (1u << lane));
        for (int j = 0; j < K; ++j) {
          const int w = ow + j - PL;
          if (w >= 0 && w < W) masks[q][j] = static_cast<__mmask16>(masks[q][j] | (1u << lane));
        }
      }
    for (int c = 0; c < G.channels; ++c) {
      const float* xc = x + static_cast<std::ptrdiff_t>(c) * F::plane;
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) {
          float* row = col + (static_cast<std::ptrdiff_t>(c) * K * K + i * K + j) * ld;
          for (int oh = 0; oh < Ho; ++oh) {
            const int h = oh + i - PT;
            float* d = row + oh * Wo;
            if (h < 0 || h >= H) {
              for (int q = 0; q < chunks; ++q) _mm512_mask_storeu_ps(d + 16 * q, store_masks[q], _mm512_setzero_ps());
              continue;
            }
            // Masked-off lanes may point outside the plane: AVX-512 suppresses their faults.
            const float* src = xc + h * W + j - PL;
            for (int q = 0; q < chunks; ++q)
              _mm512_mask_storeu_ps(d + 16 * q, store_masks[q], _mm512_maskz_loadu_ps(masks[q][j], src + 16 * q));
          }
        }
    }
    return;
  }
#endif
  constexpr int rs = F::stride_of_rows;
  float* pad = F::direct ? nullptr : detail::thread_scratch(static_cast<std::size_t>(F::Hp) * F::Wp);
  for (int c = 0; c < G.channels; ++c) {
    const float* xc = x + static_cast<std::ptrdiff_t>(c) * F::plane;
    const float* src = xc;
    if constexpr (!F::direct) {
      // pad[h][w] = x[h - pad_top][w - pad_left], zero outside.
      for (int h = 0; h < F::Hp; ++h) {
        const int xh = h - PT;
        const bool valid_row = xh >= 0 && xh < H;
        for (int w = 0; w < F::Wp; ++w) {
          const int xw = w - PL;
          pad[h * F::Wp + w] = valid_row && xw >= 0 && xw < W ? xc[xh * W + xw] : 0.f;
        }
      }
      src = pad;
    }
    for (int i = 0; i < K; ++i)
      for (int j = 0; j < K; ++j) {
        float* row = col + (static_cast<std::ptrdiff_t>(c) * K * K + i * K + j) * ld;
        for (int oh = 0; oh < Ho; ++oh) {
          const float* s = src + (oh * S + i) * rs + j;
          float* d = row + oh * Wo;
          for (int ow = 0; ow < Wo; ++ow) d[ow] = s[ow * S];
        }
      }
  }
}

// dx = col2im(dcol) for a compile-time geometry, with the same order of additions as col2im
// (bitwise equal results). Stride 1 gathers: each dx row is summed in registers from the K*K
// column rows and stored once (a scatter-add of overlapping masked stores stalls on store
// forwarding). Other strides scatter-add into the padded plane.
template <WindowGeometry G>
inline void col2im_fixed(const float* col, float* dx, std::ptrdiff_t ld) {
  using F = detail::fixed_geometry<G>;
  constexpr int S = F::S, K = F::K, Ho = G.out_h, Wo = G.out_w, H = G.height, W = G.width;
  constexpr int PT = G.pad_top, PL = G.pad_left;
#ifdef FERNET_KERNEL_DISPATCH
  if constexpr (S == 1 && W >= 16)  // as in im2col_fixed
    if (col2im_stride1(col, G, dx, ld)) return;
#endif
  if constexpr (S == 1) {
#if XSIMD_WITH_AVX512F
    constexpr int chunks = (W + 15) / 16;
    // masks[c][j]: lanes w = 16c + lane with w < W and 0 <= w + PL - j < Wo.
    std::array<std::array<__mmask16, K>, chunks> masks{};
    std::array<__mmask16, chunks> store_masks{};
    for (int q = 0; q < chunks; ++q) {
      for (int lane = 0; lane < 16; ++lane) {
        const int w = 16 * q + lane;
        if (w >= W) continue;
        store_masks[q] = static_cast<__mmask16>(store_masks[q] | (1u << lane));
        for (int j = 0; j < K; ++j) {
          const int ow = w + PL - j;
          if (ow >= 0 && ow < Wo) masks[q][j] = static_cast<__mmask16>(masks[q][j] | (1u << lane));
        }
      }
    }
    for (int c = 0; c < G.channels; ++c) {
      float* dc = dx + static_cast<std::ptrdiff_t>(c) * F::plane;
      const float* rows = col + static_cast<std::ptrdiff_t>(c) * K * K * ld;
      for (int h = 0; h < H; ++h)
        for (int q = 0; q < chunks; ++q) {
          __m512 acc = _mm512_setzero_ps();
          for (int i = 0; i < K; ++i) {
            const int oh = h + PT - i;
            if (oh < 0 || oh >= Ho) continue;
            for (int j = 0; j < K; ++j) {
              // Masked-off lanes may point outside the row: AVX-512 suppresses their faults.
              const float* src = rows + (i * K + j) * ld + oh * Wo + (16 * q + PL - j);
              acc = _mm512_add_ps(acc, _mm512_maskz_loadu_ps(masks[q][j], src));
            }
          }
          _mm512_mask_storeu_ps(dc + h * W + 16 * q, store_masks[q], acc);
        }
    }
    return;
#else
    for (int c = 0; c < G.channels; ++c) {
      float* dc = dx + static_cast<std::ptrdiff_t>(c) * F::plane;
      const float* rows = col + static_cast<std::ptrdiff_t>(c) * K * K * ld;
      for (int h = 0; h < H; ++h)
        for (int w = 0; w < W; ++w) {
          float acc = 0.f;
          for (int i = 0; i < K; ++i) {
            const int oh = h + PT - i;
            if (oh < 0 || oh >= Ho) continue;
            for (int j = 0; j < K; ++j) {
              const int ow = w + PL - j;
              if (ow >= 0 && ow < Wo) acc += rows[(i * K + j) * ld + oh * Wo + ow];
            }
          }
          dc[h * W + w] = acc;
        }
    }
    return;
#endif
  } else {
    constexpr int rs = F::stride_of_rows;
    float* pad = F::direct ? nullptr : detail::thread_scratch(static_cast<std::size_t>(F::Hp) * F::Wp);
    for (int c = 0; c < G.channels; ++c) {
      float* dc = dx + static_cast<std::ptrdiff_t>(c) * F::plane;
      float* dst = F::direct ? dc : pad;
      std::fill(dst, dst + (F::direct ? F::plane : F::Hp * F::Wp), 0.f);
      for (int i = 0; i < K; ++i)
        for (int j = 0; j < K; ++j) {
          const float* row = col + (static_cast<std::ptrdiff_t>(c) * K * K + i * K + j) * ld;
          for (int oh = 0; oh < Ho; ++oh) {
            float* d = dst + (oh * S + i) * rs + j;
            const float* s = row + oh * Wo;
            for (int ow = 0; ow < Wo; ++ow) d[ow * S] += s[ow];
          }
        }
      if constexpr (!F::direct) {
        // dx[h][w] = pad[h + pad_top][w + pad_left]; rows/columns the windows never reach are 0.
        for (int h = 0; h < H; ++h) {
          float* dr = dc + h * W;
          const int ph = h + PT;
          if (ph >= F::Hp) {
            std::fill(dr, dr + W, 0.f);
            continue;
          }
          const int wmax = std::min(W, F::Wp - PL);
          std::copy(pad + ph * F::Wp + PL, pad + ph * F::Wp + PL + wmax, dr);
          std::fill(dr + wmax, dr + W, 0.f);
        }
      }
    }
  }
}

}  // namespace fernet::kernels
