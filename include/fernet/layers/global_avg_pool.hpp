#pragma once
// GlobalAvgPool: CxHxW -> Cx1x1, the mean of each channel (torchvision's AdaptiveAvgPool2d(1)).
#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class In>
struct GlobalAvgPoolLayer : ParameterFree<In, Shape<In::channels, 1, 1>> {
  static constexpr int plane = In::height * In::width;
  void forward(const float* x, float* y, int n, const Context&) {
    const int planes = n * In::channels;
#pragma omp parallel for schedule(static) if (planes * plane > (1 << 15))
    for (int p = 0; p < planes; ++p) {
      const float* xp = x + static_cast<std::ptrdiff_t>(p) * plane;
      float s = 0.f;
      for (int i = 0; i < plane; ++i) s += xp[i];
      y[p] = s / plane;
    }
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (!dx) return;
    const int planes = n * In::channels;
#pragma omp parallel for schedule(static) if (planes * plane > (1 << 15))
    for (int p = 0; p < planes; ++p) {
      const float g = dy[p] / plane;
      float* dp = dx + static_cast<std::ptrdiff_t>(p) * plane;
      for (int i = 0; i < plane; ++i) dp[i] = g;
    }
  }
};
}  // namespace detail

struct GlobalAvgPool : AnyShape {
  static std::string name() { return "GlobalAvgPool"; }
  template <class In>
  using layer = detail::GlobalAvgPoolLayer<In>;
};

}  // namespace fernet
