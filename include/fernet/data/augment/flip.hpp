#pragma once
// Horizontal mirror (left-right), with probability p. Faces are roughly symmetric, so this is
// the cheapest label-preserving augmentation for FER2013.
#include <algorithm>

#include "../../random.hpp"
#include "image.hpp"

namespace fernet::data::augment {

// out = in mirrored left-right (out must not alias in).
inline void flip_horizontal(ConstImageView in, ImageView out) {
  detail::check_output("flip_horizontal", in.shape, out.shape);
  const int w = in.shape.width;
  const std::size_t rows = static_cast<std::size_t>(in.shape.channels) * in.shape.height;
  for (std::size_t r = 0; r < rows; ++r) std::reverse_copy(in.data + r * w, in.data + (r + 1) * w, out.data + r * w);
}

struct HorizontalFlip {
  float p = 0.5f;

  Shape output_shape(Shape in) const {
    detail::check_input("HorizontalFlip", in);
    return in;
  }
  void apply(ConstImageView in, ImageView out, Rng& rng) const {
    detail::check_output("HorizontalFlip", in.shape, out.shape);
    // One draw whatever p is, so a change of p does not shift the later transforms' draws.
    if (rng.uniform() < p) flip_horizontal(in, out);
    else std::copy(in.data, in.data + in.shape.size(), out.data);
  }
};

}  // namespace fernet::data::augment
