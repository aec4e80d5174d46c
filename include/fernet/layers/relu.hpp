#pragma once
#include "../kernels/elementwise.hpp"
#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class In>
struct ReluLayer : ParameterFree<In, In> {
  void forward(const float* x, float* y, int n, const Context&) {
    kernels::relu_forward(x, y, static_cast<std::ptrdiff_t>(n) * In::size);
  }
  void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
    if (dx) kernels::relu_backward(y, dy, dx, static_cast<std::ptrdiff_t>(n) * In::size);
  }
};
}  // namespace detail

struct ReLU : AnyShape {
  static std::string name() { return "ReLU"; }
  template <class In>
  using layer = detail::ReluLayer<In>;
};

}  // namespace fernet
