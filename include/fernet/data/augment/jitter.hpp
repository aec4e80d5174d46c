#pragma once
// Brightness and contrast jitter as torchvision's ColorJitter(brightness, contrast), on images
// already mapped to the value range [black, white] by preprocessing (0..255 raw, 0..1 for /255,
// -2..2 centred): brightness scales the distance from black by a factor in
// [max(0, 1 - brightness), 1 + brightness]; contrast blends every value with the image's mean by
// a factor in [max(0, 1 - contrast), 1 + contrast]; each result is clamped to [black, white].
// Brightness first, then contrast (torchvision picks a random order; a fixed one is simpler to
// reason about and costs nothing in accuracy).
#include <algorithm>
#include <string>

#include "../../random.hpp"
#include "image.hpp"

namespace fernet::data::augment {

struct BrightnessContrast {
  float brightness = 0.f, contrast = 0.f;
  float black = 0.f, white = 1.f;

  Shape output_shape(Shape in) const {
    detail::check_input("BrightnessContrast", in);
    if (!(brightness >= 0.f && contrast >= 0.f && white > black))
      throw std::invalid_argument(
          "fernet::data::augment::BrightnessContrast: needs brightness, contrast >= 0 and "
          "white > black (got " +
          std::to_string(brightness) + ", " + std::to_string(contrast) + ", range " + std::to_string(black) + ".." +
          std::to_string(white) + ")");
    return in;
  }
  void apply(ConstImageView in, ImageView out, Rng& rng) const {
    detail::check_output("BrightnessContrast", output_shape(in.shape), out.shape);
    const float b = rng.uniform(std::max(0.f, 1.f - brightness), 1.f + brightness);
    const float k = rng.uniform(std::max(0.f, 1.f - contrast), 1.f + contrast);
    const std::size_t n = in.shape.size();
    double sum = 0.0;
    for (std::size_t i = 0; i < n; ++i) {
      out.data[i] = std::clamp(black + b * (in.data[i] - black), black, white);
      sum += out.data[i];
    }
    const float mean = static_cast<float>(sum / static_cast<double>(n));
    for (std::size_t i = 0; i < n; ++i) out.data[i] = std::clamp(mean + k * (out.data[i] - mean), black, white);
  }
};

}  // namespace fernet::data::augment
