#pragma once
// Dropout<P>: in training, zeroes each value with probability P and scales the rest by
// 1/(1-P) (inverted dropout, as PyTorch); in evaluation, the identity. The mask is a pure
// function of the context's noise seed and the element index (kernels::dropout_keeps), so it
// does not depend on the thread count or the device, and backward recomputes it. The index runs
// over the whole batch when the batch is split across processes (Context::first_sample), so the
// masks do not depend on the split either.

#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class InShape, float P, class Exec>
struct DropoutLayer : ParameterFree<InShape, InShape, Exec> {
  using ParameterFree<InShape, InShape, Exec>::ParameterFree;
  static constexpr float scale = 1.f / (1.f - P);
  static constexpr std::uint32_t threshold = kernels::dropout_threshold(P);

  void forward(const float* x, float* y, int n, const Context& ctx) {
    if (!ctx.training || P == 0.f) {
      this->ops().copy(y, x, sizeof(float) * this->total_in(n));
      return;
    }
    this->ops().dropout_forward(x, y, this->total_in(n), ctx.noise_seed, threshold, scale, first(ctx));
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context& ctx) {
    if (!dx) return;
    if (!ctx.training || P == 0.f) {
      this->ops().copy(dx, dy, sizeof(float) * this->total_in(n));
      return;
    }
    this->ops().dropout_backward(dy, dx, this->total_in(n), ctx.noise_seed, threshold, scale, first(ctx));
  }

 private:
  // The mask index of this batch's first value.
  static long first(const Context& ctx) { return ctx.first_sample * static_cast<long>(InShape::size); }
};
}  // namespace detail

template <float P>
struct Dropout : AnyShape {
  static_assert(P >= 0.f && P < 1.f, "fernet: Dropout<P> needs 0 <= P < 1");
  static std::string name() { return "Dropout<" + std::to_string(P).substr(0, 4) + ">"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::DropoutLayer<InShape, P, Exec>;
};

}  // namespace fernet
