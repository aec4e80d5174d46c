#pragma once
// LogSoftmax over the C*H*W values of each sample (use after the last Linear layer; pair it
// with NLLLoss, or use CrossEntropyLoss on the raw scores instead).
#include "../device/element_kernels.hpp"
#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class In>
struct LogSoftmaxLayer : ParameterFree<In, In> {
  static constexpr int k = static_cast<int>(In::size);
  // The per-row rules are shared with the device backends (device/element_kernels.hpp).
  void forward(const float* x, float* y, int n, const Context&) {
    for (int s = 0; s < n; ++s)
      device::log_softmax_row(x + static_cast<std::ptrdiff_t>(s) * k, y + static_cast<std::ptrdiff_t>(s) * k, k);
  }
  // dx = dy - softmax * sum(dy)
  void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
    if (!dx) return;
    for (int s = 0; s < n; ++s) {
      const std::ptrdiff_t o = static_cast<std::ptrdiff_t>(s) * k;
      device::log_softmax_grad_row(y + o, dy + o, dx + o, k);
    }
  }
};
}  // namespace detail

struct LogSoftmax : AnyShape {
  static std::string name() { return "LogSoftmax"; }
  template <class In>
  using layer = detail::LogSoftmaxLayer<In>;
};

}  // namespace fernet
