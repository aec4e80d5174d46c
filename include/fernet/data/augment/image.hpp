#pragma once
// The image views every augmentation transform reads and writes: channels x height x width floats,
// row-major, one plane per channel (the layout of a batch sample). A transform may change the
// size (a crop), so its input and output views carry their own shapes.
#include <cstddef>
#include <stdexcept>
#include <string>

namespace fernet::data::augment {

struct Shape {
  int channels = 1, height = 0, width = 0;
  std::size_t size() const { return static_cast<std::size_t>(channels) * height * width; }
  std::size_t plane() const { return static_cast<std::size_t>(height) * width; }
  bool operator==(const Shape&) const = default;
  std::string str() const {
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
  }
};

struct ConstImageView {
  const float* data = nullptr;
  Shape shape;
  const float* plane(int c) const { return data + c * shape.plane(); }
};

struct ImageView {
  float* data = nullptr;
  Shape shape;
  float* plane(int c) const { return data + c * shape.plane(); }
  operator ConstImageView() const { return {data, shape}; }
};

namespace detail {
// Throws when out is not the shape the transform `who` makes from `in`.
inline void check_output(const char* who, Shape made, Shape out) {
  if (!(made == out))
    throw std::invalid_argument(std::string("fernet::data::augment::") + who + ": output view is " + out.str() +
                                " but the transform makes " + made.str());
}
inline void check_input(const char* who, Shape in) {
  if (in.channels <= 0 || in.height <= 0 || in.width <= 0)
    throw std::invalid_argument(std::string("fernet::data::augment::") + who + ": input shape " + in.str() +
                                " has an empty dimension");
}
}  // namespace detail

}  // namespace fernet::data::augment
