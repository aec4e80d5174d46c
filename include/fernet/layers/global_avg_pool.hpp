#pragma once
// GlobalAvgPool: CxHxW -> Cx1x1, the mean of each channel (torchvision's AdaptiveAvgPool2d(1)).
#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class InShape, class Exec>
struct GlobalAvgPoolLayer : ParameterFree<InShape, Shape<InShape::channels, 1, 1>, Exec> {
  using ParameterFree<InShape, Shape<InShape::channels, 1, 1>, Exec>::ParameterFree;
  static constexpr long plane = static_cast<long>(InShape::height) * InShape::width;
  void forward(const float* x, float* y, int n, const Context&) {
    this->ops().global_avg_forward(x, static_cast<long>(n) * InShape::channels, plane, y);
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (dx) this->ops().global_avg_backward(dy, static_cast<long>(n) * InShape::channels, plane, dx);
  }
};
}  // namespace detail

struct GlobalAvgPool : AnyShape {
  static std::string name() { return "GlobalAvgPool"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::GlobalAvgPoolLayer<InShape, Exec>;
};

}  // namespace fernet
