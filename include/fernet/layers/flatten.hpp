#pragma once
// Flatten: CxHxW -> (C*H*W)x1x1. Samples are contiguous NCHW, so this is a copy.
// Identity: the shortcut of a residual block whose shapes already agree.
#include <cstring>

#include "../layer.hpp"

namespace fernet {

namespace detail {
// Both are copies; they differ only in the shape they report.
template <class In, class Out>
struct CopyLayer : ParameterFree<In, Out> {
  void forward(const float* x, float* y, int n, const Context&) {
    std::memcpy(y, x, sizeof(float) * n * In::size);
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
    if (dx) std::memcpy(dx, dy, sizeof(float) * n * In::size);
  }
};
}  // namespace detail

struct Flatten : AnyShape {
  static std::string name() { return "Flatten"; }
  template <class In>
  using layer = detail::CopyLayer<In, Shape<static_cast<int>(In::size), 1, 1>>;
};

struct Identity : AnyShape {
  static std::string name() { return "Identity"; }
  template <class In>
  using layer = detail::CopyLayer<In, In>;
};

}  // namespace fernet
