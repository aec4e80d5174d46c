#pragma once
// LogSoftmax over the C*H*W values of each sample (use after the last Linear layer; pair it
// with NLLLoss, or use CrossEntropyLoss on the raw scores instead).
#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class InShape, class Exec>
struct LogSoftmaxLayer : ParameterFree<InShape, InShape, Exec> {
  using ParameterFree<InShape, InShape, Exec>::ParameterFree;
  static constexpr int k = static_cast<int>(InShape::size);
  void forward(const float* x, float* y, int n, const Context&) { this->ops().log_softmax_forward(x, y, n, k); }
  // dx = dy - softmax * sum(dy)
  void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
    if (dx) this->ops().log_softmax_backward(y, dy, dx, n, k);
  }
};
}  // namespace detail

struct LogSoftmax : AnyShape {
  static std::string name() { return "LogSoftmax"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::LogSoftmaxLayer<InShape, Exec>;
};

}  // namespace fernet
