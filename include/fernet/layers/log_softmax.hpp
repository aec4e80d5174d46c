#pragma once
// LogSoftmax over the C*H*W values of each sample (use after the last Linear layer; pair it
// with NLLLoss, or use CrossEntropyLoss on the raw scores instead).
#include <algorithm>
#include <cmath>

#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class In>
struct LogSoftmaxLayer : ParameterFree<In, In> {
  static constexpr int k = static_cast<int>(In::size);
  void forward(const float* x, float* y, int n, const Context&) {
    for (int s = 0; s < n; ++s) {
      const float* xs = x + static_cast<std::ptrdiff_t>(s) * k;
      float* ys = y + static_cast<std::ptrdiff_t>(s) * k;
      const float m = *std::max_element(xs, xs + k);
      double sum = 0.0;
      for (int j = 0; j < k; ++j) sum += std::exp(static_cast<double>(xs[j] - m));
      const float lse = m + static_cast<float>(std::log(sum));
      for (int j = 0; j < k; ++j) ys[j] = xs[j] - lse;
    }
  }
  // dx = dy - softmax * sum(dy)
  void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
    if (!dx) return;
    for (int s = 0; s < n; ++s) {
      const std::ptrdiff_t o = static_cast<std::ptrdiff_t>(s) * k;
      double g = 0.0;
      for (int j = 0; j < k; ++j) g += dy[o + j];
      for (int j = 0; j < k; ++j) dx[o + j] = dy[o + j] - std::exp(y[o + j]) * static_cast<float>(g);
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
