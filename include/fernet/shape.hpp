#pragma once
// Shapes live in types: Shape<C,H,W> is one sample (the batch size is a run-time value).
#include <cstddef>
#include <string>

namespace fernet {

template <int C, int H, int W>
struct Shape {
  static constexpr int channels = C, height = H, width = W;
  static constexpr std::size_t size = static_cast<std::size_t>(C) * H * W;
  static std::string str() { return std::to_string(C) + "x" + std::to_string(H) + "x" + std::to_string(W); }
};

// The first element of every Sequential: the shape of one input sample.
template <int C, int H, int W>
struct Input {
  using shape = Shape<C, H, W>;
  static std::string name() {
    return "Input<" + std::to_string(C) + "," + std::to_string(H) + "," + std::to_string(W) + ">";
  }
};

}  // namespace fernet
