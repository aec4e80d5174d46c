#pragma once
// 2-D convolution, weights Out x In x K x K (PyTorch's layout), by im2col + GEMM (on the CPU the
// forward of stride-1 convolutions without padding runs directly: kernels/direct_conv.hpp).
//   Conv<In, Out, K, Stride = 1, Pad = 0, Bias = true, Init = KaimingUniform>  (PyTorch Conv2d)
//   ConvSame<In, Out, K, Stride = 1, Bias = true, Init>   (TensorFlow padding="SAME": output
//     ceil(H / Stride); for even kernels the extra row/column of padding goes bottom/right)
// Samples are unrolled side by side into one wide im2col matrix (in chunks that bound its
// size), so that each pass is a few large matrix products: per-sample products would have
// 9 or 4 columns in ResNet's last stages, far too thin for a register-blocked kernel.
#include <algorithm>
#include <cstring>
#include <vector>

#include "../init.hpp"
#include "../kernels/direct_conv.hpp"
#include "../kernels/elementwise.hpp"
#include "../kernels/gemm.hpp"
#include "../kernels/geometry.hpp"
#include "../kernels/im2col.hpp"
#include "../layer.hpp"
#include "../parallel.hpp"

namespace fernet {

namespace detail {

// What both forms of the convolution share: shapes, geometry, parameter layout, initialisation.
template <class InShape, int Cin, int Cout, int K, int S, int PT, int PL, int PB, int PR, bool HasBias, class Init,
          class Exec>
struct ConvBase : LayerBase<InShape,
                            Shape<Cout, kernels::window_out(InShape::height, K, S, PT, PB),
                                  kernels::window_out(InShape::width, K, S, PL, PR)>,
                            Exec> {
  static constexpr int H = InShape::height, W = InShape::width;
  static_assert(H + PT + PB >= K && W + PL + PR >= K, "fernet: convolution kernel larger than its (padded) input");
  static constexpr int Ho = kernels::window_out(H, K, S, PT, PB), Wo = kernels::window_out(W, K, S, PL, PR);
  static constexpr int P = Ho * Wo;       // output pixels per channel
  static constexpr int KK = Cin * K * K;  // rows of the im2col matrix
  static constexpr std::size_t weight_count = static_cast<std::size_t>(Cout) * KK;
  static constexpr std::size_t param_count = weight_count + (HasBias ? Cout : 0), buffer_count = 0;
  static constexpr kernels::WindowGeometry geometry{Cin, H, W, K, K, S, PT, PL, Ho, Wo};
  using LayerBase<InShape, Shape<Cout, Ho, Wo>, Exec>::LayerBase;

  void bind(float* p, float* g, float*) {
    w_ = p;
    dw_ = g;
  }
  void init(Rng& rng) {
    Init::weights(w_, weight_count, KK, Cout * K * K, rng);
    if constexpr (HasBias) Init::bias(w_ + weight_count, Cout, KK, Cout * K * K, rng);
  }

 protected:
  float* w_ = nullptr;
  float* dw_ = nullptr;
};

// The convolution over any execution policy's operations (the device backends): im2col of a
// chunk of samples, one product, then the layout change to NCHW with the bias.
template <class InShape, int Cin, int Cout, int K, int S, int PT, int PL, int PB, int PR, bool HasBias, class Init,
          class Exec>
struct ConvLayer : ConvBase<InShape, Cin, Cout, K, S, PT, PL, PB, PR, HasBias, Init, Exec> {
  using Base = ConvBase<InShape, Cin, Cout, K, S, PT, PL, PB, PR, HasBias, Init, Exec>;
  using Base::KK, Base::P, Base::geometry, Base::weight_count;
  static constexpr long out_size = static_cast<long>(Cout) * Base::P;

  explicit ConvLayer(const Exec& exec = {})
      : Base(exec), col_(this->template make_array<float>()), out_(this->template make_array<float>()) {}

  void forward(const float* x, float* y, int n, const Context&) {
    auto&& ops = this->ops();
    for (int s0 = 0; s0 < n; s0 += chunk) {
      const int cs = std::min(chunk, n - s0);
      const int ld = size_buffers(cs);
      ops.im2col(x + s0 * static_cast<long>(InShape::size), geometry, cs, col_.data());
      ops.gemm(false, false, Cout, ld, KK, 1.f, this->w_, KK, col_.data(), ld, 0.f, out_.data(), ld);
      ops.channels_to_samples(out_.data(), HasBias ? this->w_ + weight_count : nullptr, cs, Cout, P, y + s0 * out_size);
    }
  }

  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
    auto&& ops = this->ops();
    for (int s0 = 0; s0 < n; s0 += chunk) {
      const int cs = std::min(chunk, n - s0);
      const int ld = size_buffers(cs);
      ops.samples_to_channels(dy + s0 * out_size, cs, Cout, P, out_.data());
      if (HasBias) ops.accumulate_row_sums(out_.data(), Cout, ld, this->dw_ + weight_count);
      ops.im2col(x + s0 * static_cast<long>(InShape::size), geometry, cs, col_.data());
      ops.gemm(false, true, Cout, KK, ld, 1.f, out_.data(), ld, col_.data(), ld, 1.f, this->dw_, KK);
      if (!dx) continue;
      ops.gemm(true, false, KK, ld, Cout, 1.f, this->w_, KK, out_.data(), ld, 0.f, col_.data(), ld);
      ops.col2im(col_.data(), geometry, cs, dx + s0 * static_cast<long>(InShape::size));
    }
  }

 private:
  // Samples per chunk: the im2col matrix stays under 2^26 floats (256 MiB).
  static constexpr int chunk = static_cast<int>(std::max<long>(1, (1l << 26) / (static_cast<long>(KK) * P)));
  // Buffers for a chunk of cs samples (im2col and the product); returns the matrices' width.
  int size_buffers(int cs) {
    const int ld = cs * P;
    col_.resize(static_cast<std::size_t>(KK) * ld);
    out_.resize(static_cast<std::size_t>(Cout) * ld);
    return ld;
  }
  typename Exec::template array<float> col_, out_;
};

// The CPU's own form, kept apart because it is hand-tuned and the difference is large: chunks
// sized for L2 and spread over threads (+28% NetAdam, +52% ResNet-18 training when introduced)
// and im2col/col2im specialised on the compile-time geometry (+9-12%); benchmarks/NOTES.md.
template <class InShape, int Cin, int Cout, int K, int S, int PT, int PL, int PB, int PR, bool HasBias, class Init>
struct ConvLayer<InShape, Cin, Cout, K, S, PT, PL, PB, PR, HasBias, Init, CpuExec>
    : ConvBase<InShape, Cin, Cout, K, S, PT, PL, PB, PR, HasBias, Init, CpuExec> {
  using Base = ConvBase<InShape, Cin, Cout, K, S, PT, PL, PB, PR, HasBias, Init, CpuExec>;
  using Base::Base;
  using Base::KK, Base::P, Base::param_count, Base::weight_count;

  // Samples per chunk: the im2col matrix of a chunk is about 512 KiB, so that it is still in
  // L2 when the GEMM packs it (a 32 MiB chunk made ResNet-18's 64-channel 3x3 convolutions
  // memory-bound: chunks of 512 KiB ran 1.2-1.5x faster), but at least 512 columns wide,
  // because thinner products waste the 48-column register tile (ResNet's last stages have
  // 4-9 pixels per sample).
  static constexpr std::size_t chunk_floats = std::size_t{1} << 17;
  static constexpr int min_columns = 512;
  static constexpr int chunk_samples = static_cast<int>(std::max<std::size_t>(
      (min_columns + P - 1) / P, std::max<std::size_t>(1, chunk_floats / (static_cast<std::size_t>(KK) * P))));

  // With at least this many chunks, the chunks themselves are spread over the threads (one
  // parallel region per pass, chunks handed out dynamically, so a thread that loses its core
  // to another process does not hold the others up); with fewer, chunks run one after another
  // and the GEMMs inside are threaded. The choice depends on the batch, not on the thread
  // count, and so do the results.
  static constexpr int parallel_chunks_min = 4;

  void forward(const float* x, float* y, int n, const Context&) {
    // Stride 1 and no padding (NetAdam's three convolutions): slid over the image directly
    // (kernels/direct_conv.hpp), bit for bit the product below.
    if (simd_enabled() &&
        kernels::direct_conv_forward<Base::geometry>(x, this->w_, HasBias ? this->w_ + weight_count : nullptr, y, n, Cout))
      return;
    const int nchunks = (n + chunk_samples - 1) / chunk_samples;
    scratch_.resize(std::max(1, omp_get_max_threads()));
    if (nchunks >= parallel_chunks_min) {
#pragma omp parallel for schedule(dynamic, 1) if (!omp_in_parallel())
      for (int c = 0; c < nchunks; ++c) forward_chunk(x, y, n, c, scratch_[omp_get_thread_num()]);
    } else {
      for (int c = 0; c < nchunks; ++c) forward_chunk(x, y, n, c, scratch_[0]);
    }
  }

  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
    const int nchunks = (n + chunk_samples - 1) / chunk_samples;
    scratch_.resize(std::max(1, omp_get_max_threads()));
    if (nchunks >= parallel_chunks_min) {
      // Each chunk writes its own parameter-gradient partial; they are then added in chunk
      // order, so the sum does not depend on which thread ran which chunk.
      partial_.resize(static_cast<std::size_t>(nchunks) * param_count);
#pragma omp parallel for schedule(dynamic, 1) if (!omp_in_parallel())
      for (int c = 0; c < nchunks; ++c)
        backward_chunk(x, dy, dx, n, c, scratch_[omp_get_thread_num()],
                       partial_.data() + static_cast<std::size_t>(c) * param_count, false);
      const float* part = partial_.data();
      float* dw = this->dw_;
      kernels::elementwise_detail::simd_loop(
          static_cast<std::ptrdiff_t>(param_count),
          [&](std::ptrdiff_t i) {
            simd_batch acc = simd_batch::load_unaligned(part + i);
            for (int c = 1; c < nchunks; ++c) acc += simd_batch::load_unaligned(part + c * param_count + i);
            (simd_batch::load_unaligned(dw + i) + acc).store_unaligned(dw + i);
          },
          [&](std::ptrdiff_t i) {
            float acc = part[i];
            for (int c = 1; c < nchunks; ++c) acc += part[c * param_count + i];
            dw[i] += acc;
          });
    } else {
      for (int c = 0; c < nchunks; ++c) backward_chunk(x, dy, dx, n, c, scratch_[0], this->dw_, true);
    }
  }

 private:
  struct Scratch {
    std::vector<float> col, out;
  };

  void forward_chunk(const float* x, float* y, int n, int c, Scratch& sc) {
    using kernels::Trans;
    const int s0 = c * chunk_samples, cs = std::min(chunk_samples, n - s0);
    const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(cs) * P;
    unroll(x + static_cast<std::ptrdiff_t>(s0) * InShape::size, cs, sc.col);
    sc.out.resize(static_cast<std::size_t>(Cout) * ld);
    kernels::gemm(Trans::no, Trans::no, Cout, static_cast<int>(ld), KK, 1.f, this->w_, KK, sc.col.data(),
                  static_cast<int>(ld), 0.f, sc.out.data(), static_cast<int>(ld));
    // out is Cout x (sample, pixel); y is (sample, Cout, pixel): scatter rows, adding the bias.
    float* ys = y + static_cast<std::ptrdiff_t>(s0) * Cout * P;
    const float* out = sc.out.data();
#pragma omp parallel for schedule(static) if (static_cast <long>(cs) * Cout * P > (1 << 15) && !omp_in_parallel())
    for (int s = 0; s < cs; ++s)
      for (int o = 0; o < Cout; ++o) {
        const float* src = out + o * ld + static_cast<std::ptrdiff_t>(s) * P;
        float* dst = ys + (static_cast<std::ptrdiff_t>(s) * Cout + o) * P;
        if constexpr (HasBias) {
          const float b = this->w_[weight_count + o];
          for (int i = 0; i < P; ++i) dst[i] = src[i] + b;
        } else {
          std::memcpy(dst, src, sizeof(float) * P);
        }
      }
  }

  // Gradients of chunk c: dw (weights, then bias) is added to when accumulate, else written.
  void backward_chunk(const float* x, const float* dy, float* dx, int n, int c, Scratch& sc, float* dw,
                      bool accumulate) {
    using kernels::Trans;
    const int s0 = c * chunk_samples, cs = std::min(chunk_samples, n - s0);
    const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(cs) * P;
    // Gather dY into Cout x (sample, pixel), the layout of the forward product.
    sc.out.resize(static_cast<std::size_t>(Cout) * ld);
    float* out = sc.out.data();
    const float* dys = dy + static_cast<std::ptrdiff_t>(s0) * Cout * P;
#pragma omp parallel for schedule(static) if (static_cast <long>(cs) * Cout * P > (1 << 15) && !omp_in_parallel())
    for (int o = 0; o < Cout; ++o)
      for (int s = 0; s < cs; ++s)
        std::memcpy(out + o * ld + static_cast<std::ptrdiff_t>(s) * P,
                    dys + (static_cast<std::ptrdiff_t>(s) * Cout + o) * P, sizeof(float) * P);
    if constexpr (HasBias) {
      for (int o = 0; o < Cout; ++o) {
        const float g = kernels::sum(out + o * ld, ld);
        dw[weight_count + o] = accumulate ? dw[weight_count + o] + g : g;
      }
    }
    unroll(x + static_cast<std::ptrdiff_t>(s0) * InShape::size, cs, sc.col);
    // dW (+)= dY col^T
    kernels::gemm(Trans::no, Trans::yes, Cout, KK, static_cast<int>(ld), 1.f, out, static_cast<int>(ld), sc.col.data(),
                  static_cast<int>(ld), accumulate ? 1.f : 0.f, dw, KK);
    if (!dx) return;
    // dcol = W^T dY, then each column block is folded back into its sample's dx.
    kernels::gemm(Trans::yes, Trans::no, KK, static_cast<int>(ld), Cout, 1.f, this->w_, KK, out, static_cast<int>(ld),
                  0.f, sc.col.data(), static_cast<int>(ld));
    float* dxs = dx + static_cast<std::ptrdiff_t>(s0) * InShape::size;
    const float* col = sc.col.data();
#pragma omp parallel for schedule(static) if (cs > 1 && !omp_in_parallel())
    for (int s = 0; s < cs; ++s)
      kernels::col2im_fixed<Base::geometry>(col + static_cast<std::ptrdiff_t>(s) * P,
                                            dxs + static_cast<std::ptrdiff_t>(s) * InShape::size, ld);
  }

  // im2col of cs samples side by side: col is KK x (cs * P).
  void unroll(const float* x, int cs, std::vector<float>& col) {
    const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(cs) * P;
    col.resize(static_cast<std::size_t>(KK) * ld);
    float* c = col.data();
#pragma omp parallel for schedule(static) if (cs > 1 && !omp_in_parallel())
    for (int s = 0; s < cs; ++s)
      kernels::im2col_fixed<Base::geometry>(x + static_cast<std::ptrdiff_t>(s) * InShape::size,
                                            c + static_cast<std::ptrdiff_t>(s) * P, ld);
  }

  std::vector<Scratch> scratch_;
  std::vector<float> partial_;
};

}  // namespace detail

template <int In, int Out, int K, int Stride = 1, int Pad = 0, bool Bias = true, class Init = init::KaimingUniform>
struct Conv {
  static_assert(In > 0 && Out > 0 && K > 0 && Stride > 0 && Pad >= 0,
                "fernet: Conv<In, Out, K, Stride, Pad> needs positive sizes");
  static std::string name() {
    return "Conv<" + detail::join_ints(In, Out, K, Stride, Pad) + (Bias ? "" : ",nobias") + ">";
  }
  template <class InShape>
  static constexpr bool accepts = InShape::channels == In;
  template <class InShape>
  using expects = expects_channels<In>;
  template <class InShape, class Exec = CpuExec>
  using layer = detail::ConvLayer<InShape, In, Out, K, Stride, Pad, Pad, Pad, Pad, Bias, Init, Exec>;
};

template <int In, int Out, int K, int Stride = 1, bool Bias = true, class Init = init::KaimingUniform>
struct ConvSame {
  static std::string name() {
    return "ConvSame<" + detail::join_ints(In, Out, K, Stride) + (Bias ? "" : ",nobias") + ">";
  }
  template <class InShape>
  static constexpr bool accepts = InShape::channels == In;
  template <class InShape>
  using expects = expects_channels<In>;
  template <class InShape, class Exec = CpuExec>
  using layer = detail::ConvLayer<InShape, In, Out, K, Stride, kernels::same_pad_before(InShape::height, K, Stride),
                                  kernels::same_pad_before(InShape::width, K, Stride),
                                  kernels::same_pad_after(InShape::height, K, Stride),
                                  kernels::same_pad_after(InShape::width, K, Stride), Bias, Init, Exec>;
};

}  // namespace fernet
