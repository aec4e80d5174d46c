#pragma once
// Linear<In, Out, Bias = true>: y = x W^T + b with W stored Out x In (PyTorch's layout).
// It accepts any input whose C*H*W equals In (samples are contiguous, so no copy is needed).
// On the CPU, inference can read its weights as halves (Context::half_weights, kernels/half.hpp).
#include <cstdint>
#include <type_traits>
#include <vector>

#include "../init.hpp"
#include "../kernels/half.hpp"
#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class InShape, int I, int O, bool HasBias, class Init, class Exec>
struct LinearLayer : LayerBase<InShape, Shape<O, 1, 1>, Exec> {
  using LayerBase<InShape, Shape<O, 1, 1>, Exec>::LayerBase;
  static constexpr std::size_t weight_count = static_cast<std::size_t>(I) * O;
  static constexpr std::size_t param_count = weight_count + (HasBias ? O : 0), buffer_count = 0;

  void bind(float* p, float* g, float*) {
    w_ = p;
    dw_ = g;
  }
  void init(Rng& rng) {
    Init::weights(w_, weight_count, I, O, rng);
    if constexpr (HasBias) Init::bias(w_ + weight_count, O, I, O, rng);
  }
  void forward(const float* x, float* y, int n, const Context& ctx) {
    auto&& ops = this->ops();
    bool half = false;
    if constexpr (std::is_same_v<Exec, CpuExec>) half = ctx.half_weights && !ctx.training;
    if (half) forward_half(x, y, n, ctx.half_weights);
    else ops.gemm(false, true, n, O, I, 1.f, x, I, w_, I, 0.f, y, O);
    if constexpr (HasBias) ops.add_row_bias(y, w_ + weight_count, n, O);
  }
  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
    auto&& ops = this->ops();
    ops.gemm(true, false, O, I, n, 1.f, dy, O, x, I, 1.f, dw_, I);
    if constexpr (HasBias) ops.accumulate_column_sums(dy, n, O, dw_ + weight_count);
    if (dx) ops.gemm(false, false, n, I, O, 1.f, dy, O, w_, I, 0.f, dx, I);
  }

 private:
  // Up to this many samples the half weights are streamed by the dot-product kernel (latency);
  // larger batches are compute-bound and run the packed GEMM on the halves widened to floats
  // (once per copy, kept beside it), so a sample's result reads the same rounded weights at any
  // batch size.
  static constexpr int half_kernel_batch = 16;

  void forward_half(const float* x, float* y, int n, std::uint64_t version) {
    if (half_version_ != version) {
      half_.resize(weight_count);
      kernels::floats_to_halves(w_, half_.data(), weight_count);
      half_version_ = version;
    }
    if (n <= half_kernel_batch) {
      kernels::linear_half(n, O, I, x, half_.data(), y);
    } else {
      if (widened_version_ != version) {
        widened_.resize(weight_count);
        kernels::halves_to_floats(half_.data(), widened_.data(), weight_count);
        widened_version_ = version;
      }
      this->ops().gemm(false, true, n, O, I, 1.f, x, I, widened_.data(), I, 0.f, y, O);
    }
  }

  float* w_ = nullptr;
  float* dw_ = nullptr;
  std::vector<std::uint16_t> half_;
  std::uint64_t half_version_ = 0, widened_version_ = 0;
  std::vector<float> widened_;
};
}  // namespace detail

template <int In, int Out, bool Bias = true, class Init = init::KaimingUniform>
struct Linear {
  static_assert(In > 0 && Out > 0, "fernet: Linear<In, Out> needs positive sizes");
  static std::string name() { return "Linear<" + detail::join_ints(In, Out) + (Bias ? "" : ",nobias") + ">"; }
  template <class InShape>
  static constexpr bool accepts = InShape::size == static_cast<std::size_t>(In);
  template <class InShape>
  using expects = expects_inputs<In>;
  template <class InShape, class Exec = CpuExec>
  using layer = detail::LinearLayer<InShape, In, Out, Bias, Init, Exec>;
};

}  // namespace fernet
