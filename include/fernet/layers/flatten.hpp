#pragma once
// Flatten: CxHxW -> (C*H*W)x1x1. Samples are contiguous NCHW, so this is a copy.
// Identity: the shortcut of a residual block whose shapes already agree.
#include "../layer.hpp"

namespace fernet {

namespace detail {
// Both are copies; they differ only in the shape they report.
template <class InShape, class OutShape, class Exec>
struct CopyLayer : ParameterFree<InShape, OutShape, Exec> {
  using ParameterFree<InShape, OutShape, Exec>::ParameterFree;
  void forward(const float* x, float* y, int n, const Context&) {
    this->ops().copy(y, x, sizeof(float) * this->total_in(n));
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (dx) this->ops().copy(dx, dy, sizeof(float) * this->total_in(n));
  }
};
}  // namespace detail

struct Flatten : AnyShape {
  static std::string name() { return "Flatten"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::CopyLayer<InShape, Shape<static_cast<int>(InShape::size), 1, 1>, Exec>;
};

struct Identity : AnyShape {
  static std::string name() { return "Identity"; }
  template <class InShape, class Exec = CpuExec>
  using layer = detail::CopyLayer<InShape, InShape, Exec>;
};

}  // namespace fernet
