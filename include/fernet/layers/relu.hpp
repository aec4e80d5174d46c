#pragma once
// ReLU: y = max(x, 0); its gradient passes where y > 0.
#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class InShape, class Exec>
struct ReluLayer : ParameterFree<InShape, InShape, Exec> {
  using ParameterFree<InShape, InShape, Exec>::ParameterFree;
  void forward(const float* x, float* y, int n, const Context&) { this->ops().relu_forward(x, y, this->total_in(n)); }
  void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
    if (dx) this->ops().relu_backward(y, dy, dx, this->total_in(n));
  }
};
}  // namespace detail

struct ReLU : AnyShape {
  static std::string name() { return "ReLU"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::ReluLayer<InShape, Exec>;
};

}  // namespace fernet
