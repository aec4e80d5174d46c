#pragma once
// Crops: a window of the input, optionally of the input padded by a constant border (torchvision's
// RandomCrop(size, padding) with fill), and the deterministic centre crop.
#include <algorithm>
#include <cmath>
#include <string>

#include "../../random.hpp"
#include "image.hpp"

namespace fernet::data::augment {

// Copies the out.shape window whose top-left corner is (top, left) in input coordinates; the
// window may reach outside the input (negative or too large offsets), and those pixels read fill.
inline void crop_at(ConstImageView in, ImageView out, int top, int left, float fill = 0.f) {
  if (in.shape.channels != out.shape.channels)
    throw std::invalid_argument("fernet::data::augment::crop_at: input has " + std::to_string(in.shape.channels) +
                                " channels, output " + std::to_string(out.shape.channels));
  const int h = out.shape.height, w = out.shape.width;
  // Columns [x0, x1) of the window lie inside the input; the rest is fill.
  const int x0 = std::clamp(-left, 0, w), x1 = std::clamp(in.shape.width - left, x0, w);
  for (int c = 0; c < out.shape.channels; ++c) {
    const float* src = in.plane(c);
    float* dst = out.plane(c);
    for (int y = 0; y < h; ++y) {
      float* row = dst + static_cast<std::size_t>(y) * w;
      const int sy = top + y;
      if (sy < 0 || sy >= in.shape.height) {
        std::fill(row, row + w, fill);
        continue;
      }
      std::fill(row, row + x0, fill);
      if (x1 > x0) {
        const float* from = src + static_cast<std::ptrdiff_t>(sy) * in.shape.width + left + x0;
        std::copy(from, from + (x1 - x0), row + x0);
      }
      std::fill(row + x1, row + w, fill);
    }
  }
}

// A window of height x width at a uniformly drawn position of the input padded by `padding`
// pixels of `fill` on every side (fill is in the preprocessed value scale: 0 is black for raw
// or /255 inputs, -2 for the centred ones). height == input and padding > 0 gives the
// "pad and crop back" shift augmentation.
struct RandomCrop {
  int height = 0, width = 0;
  int padding = 0;
  float fill = 0.f;

  RandomCrop(int size, int padding_ = 0, float fill_ = 0.f) : RandomCrop(size, size, padding_, fill_) {}
  RandomCrop(int height_, int width_, int padding_, float fill_)
      : height(height_), width(width_), padding(padding_), fill(fill_) {
    if (height <= 0 || width <= 0 || padding < 0)
      throw std::invalid_argument("fernet::data::augment::RandomCrop: size " + std::to_string(height) + "x" +
                                  std::to_string(width) + " and padding " + std::to_string(padding) +
                                  " must be positive (padding >= 0)");
  }

  Shape output_shape(Shape in) const {
    detail::check_input("RandomCrop", in);
    if (height > in.height + 2 * padding || width > in.width + 2 * padding)
      throw std::invalid_argument("fernet::data::augment::RandomCrop: crop " + std::to_string(height) + "x" +
                                  std::to_string(width) + " is larger than the input " + std::to_string(in.height) +
                                  "x" + std::to_string(in.width) + " padded by " + std::to_string(padding));
    return {in.channels, height, width};
  }
  void apply(ConstImageView in, ImageView out, Rng& rng) const {
    detail::check_output("RandomCrop", output_shape(in.shape), out.shape);
    const int top = static_cast<int>(rng.below(in.shape.height + 2 * padding - height + 1)) - padding;
    const int left = static_cast<int>(rng.below(in.shape.width + 2 * padding - width + 1)) - padding;
    crop_at(in, out, top, left, fill);
  }
};

// The centre window; odd margins round as torchvision's center_crop (round half to even).
struct CenterCrop {
  int height = 0, width = 0;

  explicit CenterCrop(int size) : CenterCrop(size, size) {}
  CenterCrop(int height_, int width_) : height(height_), width(width_) {
    if (height <= 0 || width <= 0)
      throw std::invalid_argument("fernet::data::augment::CenterCrop: size " + std::to_string(height) + "x" +
                                  std::to_string(width) + " must be positive");
  }
  static int offset(int full, int part) { return static_cast<int>(std::nearbyint((full - part) / 2.0)); }

  Shape output_shape(Shape in) const {
    detail::check_input("CenterCrop", in);
    if (height > in.height || width > in.width)
      throw std::invalid_argument("fernet::data::augment::CenterCrop: crop " + std::to_string(height) + "x" +
                                  std::to_string(width) + " is larger than the input " + in.str());
    return {in.channels, height, width};
  }
  void apply(ConstImageView in, ImageView out, Rng&) const { apply(in, out); }
  void apply(ConstImageView in, ImageView out) const {
    detail::check_output("CenterCrop", output_shape(in.shape), out.shape);
    crop_at(in, out, offset(in.shape.height, height), offset(in.shape.width, width));
  }
};

}  // namespace fernet::data::augment
