#pragma once
// Element-wise activations written once, from a rule (kernels/activation_rules.hpp): the CPU
// loops over the rule, a device backend runs it as a kernel. A new activation is its rule
// there and its spec here.
//   LeakyReLU<Slope = 0.01f>   torch.nn.LeakyReLU(Slope)
#include <string>

#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class InShape, class Spec, class Exec>
struct ActivationLayer : ParameterFree<InShape, InShape, Exec> {
  using ParameterFree<InShape, InShape, Exec>::ParameterFree;
  void forward(const float* x, float* y, int n, const Context&) {
    this->ops().activation_forward(Spec::rule, x, y, this->total_in(n));
  }
  void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context&) {
    if (dx) this->ops().activation_backward(Spec::rule, x, y, dy, dx, this->total_in(n));
  }
};

inline std::string float_arg(float v) {
  std::string s = std::to_string(v);
  while (s.size() > 1 && s.back() == '0') s.pop_back();
  if (!s.empty() && s.back() == '.') s.pop_back();
  return s;
}
}  // namespace detail

// Each activation spec names itself and holds its rule as a constant (`rule`).
template <float Slope = 0.01f>
struct LeakyReLU : AnyShape {
  static_assert(Slope >= 0.f && Slope < 1.f, "fernet: LeakyReLU<Slope> needs 0 <= Slope < 1");
  static constexpr kernels::LeakyReluRule rule{Slope};
  static std::string name() { return "LeakyReLU<" + detail::float_arg(Slope) + ">"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::ActivationLayer<InShape, LeakyReLU, Exec>;
};

}  // namespace fernet
