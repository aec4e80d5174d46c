#pragma once
// NetAdam's first three layers in one pass: the one-channel direct convolution
// (direct_conv.hpp), a 2x2/2 max pooling of its output, and the ReLU, applied to the pooled
// quarter (max and ReLU commute; layers/fusions.hpp). Per sample and block of output channels,
// the convolution's planes go to a buffer of the thread's own (2 planes of 46 x 46 for NetAdam,
// 17 KiB, so they stay in L1/L2), are pooled from there and the ReLU applied to the block's
// pooled planes while they are in L1: the convolution's full-size output (27 MB for 100 images of
// 48 x 48) is never written to memory and read back, nor the pooled output a second time. Values
// and argmax (indices within the convolution's plane) are bit for bit those of
// direct_conv_forward, max_pool_forward and relu_forward run one after another: the same kernels
// on the same values, in blocks (only NaN and -0 could come out otherwise, where relu_forward's
// vector and scalar forms differ and the blocks put the scalar tails elsewhere).
//
// Backward, for a first layer (no input gradient wanted): the parameter gradients come from the
// pooled output's gradient directly, at the pooled resolution (conv_relu_pool_detail says how):
// per sample and channel four masked copies of the pooled gradient, built with vector compares,
// and their K*K dot products with the image's even and odd columns. The layers apart write the
// full-size gradient plane to memory (27 MB), copy it into the product's layout, unroll the
// images and run a product with 9 columns. The sums
// run in another order than the product's, so the gradients agree with the layers apart to
// float rounding, not bit for bit; they do not depend on the thread count (a row per sample and
// channel, added up in sample order).
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../parallel.hpp"
#include "direct_conv.hpp"
#include "element_rules.hpp"
#include "elementwise.hpp"
#include "geometry.hpp"
#include "kernel_set.hpp"
#include "pooling.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

// Whether the fused form applies: the direct convolution's shape and a plain 2x2/2 window on
// its output.
template <class ConvGeo, class PoolGeo>
constexpr bool direct_conv_relu_pool_shape(const ConvGeo& conv, const PoolGeo& pool) {
  return direct_conv_shape(conv) && is_plain2x2(pool) && pool.height == conv.out_h && pool.width == conv.out_w;
}

// y, argmax (n x cout x pool.out_h x pool.out_w) from x (n x 1 x H x W), weights cout x K x K,
// bias (or null).
template <class ConvGeo, class PoolGeo>
inline void direct_conv_relu_pool_planes(const float* x, const float* w, const float* bias, float* y, int* argmax,
                                         int n, int cout, const ConvGeo& conv, const PoolGeo& pool) {
  constexpr int G = direct_conv_detail::channels_per_block;
  const int groups = (cout + G - 1) / G, KK = conv.kh * conv.kw;
  const std::ptrdiff_t in = static_cast<std::ptrdiff_t>(conv.height) * conv.width;
  const std::ptrdiff_t P = static_cast<std::ptrdiff_t>(conv.out_h) * conv.out_w;
  const std::ptrdiff_t Q = static_cast<std::ptrdiff_t>(pool.out_h) * pool.out_w;
  direct_conv_detail::with_row_blocking(conv, [&]<int J>() {
#pragma omp parallel if (static_cast <long>(n) * cout * P > (1 << 15) && !omp_in_parallel())
    {
      std::vector<float> planes(static_cast<std::size_t>(G) * P);  // this thread's block of conv planes
#pragma omp for collapse(2) schedule(static)
      for (int s = 0; s < n; ++s)
        for (int b = 0; b < groups; ++b) {
          const int o0 = b * G, count = std::min(G, cout - o0);
          // The block's planes as direct_conv_forward computes them (bit for bit), into the buffer.
          direct_conv_detail::channel_block<J>(x + s * in, w + o0 * KK, bias ? bias + o0 : nullptr, planes.data(),
                                               count, conv);
          const std::ptrdiff_t at = (static_cast<std::ptrdiff_t>(s) * cout + o0) * Q;
          for (int c = 0; c < count; ++c)
            pool_detail::pool2x2_forward(planes.data() + c * P, y + at + c * Q, argmax + at + c * Q, pool);
          // The ReLU over this block only (fewer values than relu_forward_simd spreads over
          // threads, so it stays on this one).
          relu_forward_simd(y + at, y + at, count * Q);
        }
    }
  });
}

namespace conv_relu_pool_detail {
// The convolution's gradient plane is zero but at each pooling window's argmax, one of the four
// places (a, b) in {0, 1}^2 from the window's corner (2 ph, 2 pw), where it is the pooled gradient
// wherever the ReLU passed it. So with g_ab the pooled gradients of the windows whose argmax is
// (a, b), zero at the others (four planes at the pooled resolution),
//   dW[ky][kx] = sum over a, b, ph, pw of g_ab[ph][pw] * X[2 ph + a + ky][2 pw + b + kx],
// and X's column 2 pw + b + kx is column pw + (b + kx) / 2 of its even or odd columns: with the
// image split by column parity once per sample, every load is a contiguous vector.
template <int K>
struct Buffers {
  int Qp, L;                    // pooled row in whole vectors; split image row (>= Qp + K / 2)
  // 2 x H x L (even, odd columns); 4 x Po x Qp (g_00, g_01, g_10, g_11). Both zero past the
  // columns written, so that whole vectors read zeros there.
  std::vector<float> split, g;
  template <class ConvGeo, class PoolGeo>
  Buffers(const ConvGeo& conv, const PoolGeo& pool)
      : Qp((pool.out_w + static_cast<int>(simd_width) - 1) / static_cast<int>(simd_width) *
           static_cast<int>(simd_width)),
        L(std::max(Qp + K / 2, (conv.width + 1) / 2)),
        split(static_cast<std::size_t>(2) * conv.height * L, 0.f),
        g(static_cast<std::size_t>(4) * pool.out_h * Qp, 0.f) {}
};

// One sample's gradient rows, cout x (K*K weights, then the bias), from its pooled output ys,
// that output's gradient gs and the pooling's argmax `as` (indices within the convolution's
// plane).
template <int K, class ConvGeo, class PoolGeo>
inline void sample_gradients(const float* xs, const float* ys, const float* gs, const int* as, float* rows, int cout,
                             const ConvGeo& conv, const PoolGeo& pool, Buffers<K>& buf) {
  using ibatch = xsimd::batch<std::int32_t>;
  constexpr int V = static_cast<int>(simd_width), KK = K * K;
  static_assert(ibatch::size == simd_batch::size);
  const int H = conv.height, W = conv.width, Wo = conv.out_w;
  const int Po = pool.out_h, Qo = pool.out_w, Qp = buf.Qp, L = buf.L, vectors = Qp / V;
  const std::ptrdiff_t plane = static_cast<std::ptrdiff_t>(Po) * Qp;
  float* split = buf.split.data();
  float* g4 = buf.g.data();
  // Columns past the image stay zero (set once): they meet only the zero gradients past Qo.
  for (int h = 0; h < H; ++h)
    for (int x = 0; x < W; ++x) split[(static_cast<std::ptrdiff_t>(x % 2) * H + h) * L + x / 2] = xs[h * W + x];
  alignas(64) std::int32_t twice_lane[V];
  for (int i = 0; i < V; ++i) twice_lane[i] = 2 * i;
  const ibatch lane2 = ibatch::load_aligned(twice_lane);
  const simd_batch zero(0.f);
  for (int c = 0; c < cout; ++c) {
    // The four planes: the argmax's offset from its window's corner (0, 1, Wo or Wo + 1) picks
    // the plane that gets the window's gradient.
    for (int ph = 0; ph < Po; ++ph) {
      const std::ptrdiff_t q = (static_cast<std::ptrdiff_t>(c) * Po + ph) * Qo;
      float* g = g4 + ph * Qp;
      const int corner = 2 * ph * Wo;
      if (Qo >= V) {
        // Whole vectors, the last one ending at Qo (overlapping the one before: the same values
        // written twice); the columns past Qo stay zero.
        for (int p0 = 0; p0 < Qo; p0 += V) {
          const int pw = std::min(p0, Qo - V);
          const simd_batch y = simd_batch::load_unaligned(ys + q + pw);
          const simd_batch gv = xsimd::select(y > zero, simd_batch::load_unaligned(gs + q + pw), zero);
          const simd_batch d = xsimd::to_float(ibatch::load_unaligned(as + q + pw) - lane2 - ibatch(corner + 2 * pw));
          xsimd::select(d == zero, gv, zero).store_unaligned(g + pw);
          xsimd::select(d == simd_batch(1.f), gv, zero).store_unaligned(g + plane + pw);
          xsimd::select(d == simd_batch(static_cast<float>(Wo)), gv, zero).store_unaligned(g + 2 * plane + pw);
          xsimd::select(d == simd_batch(static_cast<float>(Wo + 1)), gv, zero).store_unaligned(g + 3 * plane + pw);
        }
      } else {
        for (int pw = 0; pw < Qo; ++pw) {
          const float gv = relu_grad_at(ys[q + pw], gs[q + pw]);
          const int d = as[q + pw] - corner - 2 * pw;
          g[pw] = d == 0 ? gv : 0.f;
          g[plane + pw] = d == 1 ? gv : 0.f;
          g[2 * plane + pw] = d == Wo ? gv : 0.f;
          g[3 * plane + pw] = d == Wo + 1 ? gv : 0.f;
        }
      }
    }
    // Their K*K dot products with the image's shifted even and odd columns, and their sum.
    simd_batch acc[KK], bias_acc(0.f);
    for (int k = 0; k < KK; ++k) acc[k] = simd_batch(0.f);
    for (int a = 0; a < 2; ++a)
      for (int b = 0; b < 2; ++b) {
        const float* gab = g4 + (2 * a + b) * plane;
        for (int ph = 0; ph < Po; ++ph)
          for (int v = 0; v < vectors; ++v) {
            const simd_batch gv = simd_batch::load_unaligned(gab + ph * Qp + v * V);
            bias_acc += gv;
#pragma GCC unroll 5
            for (int ky = 0; ky < K; ++ky) {
              const std::ptrdiff_t row = static_cast<std::ptrdiff_t>(2 * ph + a + ky) * L + v * V;
#pragma GCC unroll 5
              for (int kx = 0; kx < K; ++kx) {
                const float* col = split + ((b + kx) % 2) * static_cast<std::ptrdiff_t>(H) * L + (b + kx) / 2;
                acc[ky * K + kx] = xsimd::fma(gv, simd_batch::load_unaligned(col + row), acc[ky * K + kx]);
              }
            }
          }
      }
    float* out = rows + static_cast<std::ptrdiff_t>(c) * (KK + 1);
    for (int k = 0; k < KK; ++k) out[k] = xsimd::hadd(acc[k]);
    out[KK] = xsimd::hadd(bias_acc);
  }
}

template <int K, class ConvGeo, class PoolGeo>
inline void backward_planes(const float* x, const float* y, const float* dy, const int* argmax, float* dw, float* db,
                            int n, int cout, const ConvGeo& conv, const PoolGeo& pool) {
  constexpr int KK = K * K;
  const std::ptrdiff_t in = static_cast<std::ptrdiff_t>(conv.height) * conv.width;
  const std::ptrdiff_t out = static_cast<std::ptrdiff_t>(cout) * pool.out_h * pool.out_w;
  const std::ptrdiff_t row_floats = static_cast<std::ptrdiff_t>(cout) * (KK + 1);
  std::vector<float> rows(static_cast<std::size_t>(n) * row_floats);
#pragma omp parallel if (static_cast <long>(n) * cout * conv.out_h * conv.out_w > (1 << 15) && !omp_in_parallel())
  {
    Buffers<K> buf(conv, pool);
#pragma omp for schedule(static)
    for (int s = 0; s < n; ++s)
      sample_gradients<K>(x + s * in, y + s * out, dy + s * out, argmax + s * out, rows.data() + s * row_floats, cout,
                          conv, pool, buf);
  }
  // backward() adds: the rows of the samples in their order.
  for (int c = 0; c < cout; ++c)
    for (int k = 0; k <= KK; ++k) {
      float sum = 0.f;
      for (int s = 0; s < n; ++s) sum += rows[s * row_floats + c * (KK + 1) + k];
      if (k < KK) dw[c * KK + k] += sum;
      else if (db) db[c] += sum;
    }
}
}  // namespace conv_relu_pool_detail

// dw (cout x K x K) and db (cout, or null) += the parameter gradients of the fused layer from its
// output y, that output's gradient dy and the argmax its forward wrote; false (nothing done)
// where the fused form does not apply or K is not 1 to 5.
template <class ConvGeo, class PoolGeo>
inline bool direct_conv_relu_pool_backward_planes(const float* x, const float* y, const float* dy, const int* argmax,
                                                  float* dw, float* db, int n, int cout, const ConvGeo& conv,
                                                  const PoolGeo& pool) {
  using namespace conv_relu_pool_detail;
  if (!direct_conv_relu_pool_shape(conv, pool)) return false;
  switch (conv.kh) {
    case 1: backward_planes<1>(x, y, dy, argmax, dw, db, n, cout, conv, pool); return true;
    case 2: backward_planes<2>(x, y, dy, argmax, dw, db, n, cout, conv, pool); return true;
    case 3: backward_planes<3>(x, y, dy, argmax, dw, db, n, cout, conv, pool); return true;
    case 4: backward_planes<4>(x, y, dy, argmax, dw, db, n, cout, conv, pool); return true;
    case 5: backward_planes<5>(x, y, dy, argmax, dw, db, n, cout, conv, pool); return true;
    default: return false;
  }
}

// The kernel set's run-time form; false (nothing done) where the fused form does not apply.
inline bool direct_conv_relu_pool_forward_simd(const float* x, const float* w, const float* bias, float* y,
                                               int* argmax, int n, int cout, const WindowGeometry& conv,
                                               const WindowGeometry& pool) {
  if (!direct_conv_relu_pool_shape(conv, pool) || !direct_conv_applies(conv)) return false;
  direct_conv_relu_pool_planes(x, w, bias, y, argmax, n, cout, conv, pool);
  return true;
}

inline bool direct_conv_relu_pool_backward_simd(const float* x, const float* y, const float* dy, const int* argmax,
                                                float* dw, float* db, int n, int cout, const WindowGeometry& conv,
                                                const WindowGeometry& pool) {
  return direct_conv_relu_pool_backward_planes(x, y, dy, argmax, dw, db, n, cout, conv, pool);
}

// With compile-time geometries, from the kernel set chosen at run time in a FERNET_DISPATCH
// build; false where the fused form does not apply (the caller runs the layers apart).
template <WindowGeometry Conv, WindowGeometry Pool>
inline bool direct_conv_relu_pool_forward(const float* x, const float* w, const float* bias, float* y, int* argmax,
                                          int n, int cout) {
  constexpr FixedWindow<Conv> conv{};
  constexpr FixedWindow<Pool> pool{};
  if constexpr (!direct_conv_relu_pool_shape(conv, pool)) {
    return false;
  } else {
#ifdef FERNET_KERNEL_DISPATCH
    return FERNET_KERNEL(direct_conv_relu_pool_forward)(x, w, bias, y, argmax, n, cout, Conv, Pool);
#else
    if (!direct_conv_applies(conv)) return false;
    direct_conv_relu_pool_planes(x, w, bias, y, argmax, n, cout, conv, pool);
    return true;
#endif
  }
}

template <WindowGeometry Conv, WindowGeometry Pool>
inline bool direct_conv_relu_pool_backward(const float* x, const float* y, const float* dy, const int* argmax,
                                           float* dw, float* db, int n, int cout) {
  constexpr FixedWindow<Conv> conv{};
  constexpr FixedWindow<Pool> pool{};
  if constexpr (!direct_conv_relu_pool_shape(conv, pool)) {
    return false;
  } else {
#ifdef FERNET_KERNEL_DISPATCH
    return FERNET_KERNEL(direct_conv_relu_pool_backward)(x, y, dy, argmax, dw, db, n, cout, Conv, Pool);
#else
    return direct_conv_relu_pool_backward_planes(x, y, dy, argmax, dw, db, n, cout, conv, pool);
#endif
  }
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
