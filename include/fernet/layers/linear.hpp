#pragma once
// Linear<In, Out, Bias = true>: y = x W^T + b with W stored Out x In (PyTorch's layout).
// It accepts any input whose C*H*W equals In (samples are contiguous, so no copy is needed).
#include "../init.hpp"
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
  void forward(const float* x, float* y, int n, const Context&) {
    auto&& ops = this->ops();
    ops.gemm(false, true, n, O, I, 1.f, x, I, w_, I, 0.f, y, O);
    if constexpr (HasBias) ops.add_row_bias(y, w_ + weight_count, n, O);
  }
  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
    auto&& ops = this->ops();
    ops.gemm(true, false, O, I, n, 1.f, dy, O, x, I, 1.f, dw_, I);
    if constexpr (HasBias) ops.accumulate_column_sums(dy, n, O, dw_ + weight_count);
    if (dx) ops.gemm(false, false, n, I, O, 1.f, dy, O, w_, I, 0.f, dx, I);
  }

 private:
  float* w_ = nullptr;
  float* dw_ = nullptr;
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
