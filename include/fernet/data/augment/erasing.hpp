#pragma once
// Random erasing (Zhong et al. 2017, torchvision's RandomErasing): with probability p, one
// rectangle of area scale_min..scale_max of the image and aspect ratio ratio_min..ratio_max
// (log-uniform) is set to `value`, or to standard normal noise when random_fill is set. Up to
// ten draws find a rectangle that fits; when none fits nothing is erased, as torchvision.
#include <algorithm>
#include <cmath>
#include <string>

#include "../../random.hpp"
#include "image.hpp"

namespace fernet::data::augment {

struct Rect {
  int top = 0, left = 0, height = 0, width = 0;  // height == 0: nothing erased
  bool operator==(const Rect&) const = default;
};

struct RandomErasing {
  float p = 0.5f;
  float scale_min = 0.02f, scale_max = 0.33f;  // share of the image area
  float ratio_min = 0.3f, ratio_max = 3.3f;    // height / width
  float value = 0.f;
  bool random_fill = false;

  // The rectangle this sample erases (height 0 for none); apply() draws exactly this.
  Rect draw(Shape in, Rng& rng) const {
    if (!(rng.uniform() < p)) return {};
    const double area = static_cast<double>(in.height) * in.width;
    const double log_lo = std::log(ratio_min), log_hi = std::log(ratio_max);
    for (int attempt = 0; attempt < 10; ++attempt) {
      const double erase = area * rng.uniform(scale_min, scale_max);
      const double aspect = std::exp(log_lo + (log_hi - log_lo) * rng.uniform());
      const int h = static_cast<int>(std::nearbyint(std::sqrt(erase * aspect)));
      const int w = static_cast<int>(std::nearbyint(std::sqrt(erase / aspect)));
      if (!(h < in.height && w < in.width) || h <= 0 || w <= 0) continue;
      const int top = static_cast<int>(rng.below(in.height - h + 1));
      const int left = static_cast<int>(rng.below(in.width - w + 1));
      return {top, left, h, w};
    }
    return {};
  }

  Shape output_shape(Shape in) const {
    detail::check_input("RandomErasing", in);
    if (!(scale_min > 0.f && scale_max >= scale_min && scale_max <= 1.f && ratio_min > 0.f && ratio_max >= ratio_min))
      throw std::invalid_argument(
          "fernet::data::augment::RandomErasing: needs 0 < scale_min <= scale_max <= 1 and "
          "0 < ratio_min <= ratio_max (got scale " +
          std::to_string(scale_min) + ".." + std::to_string(scale_max) + ", ratio " + std::to_string(ratio_min) + ".." +
          std::to_string(ratio_max) + ")");
    return in;
  }
  void apply(ConstImageView in, ImageView out, Rng& rng) const {
    detail::check_output("RandomErasing", output_shape(in.shape), out.shape);
    std::copy(in.data, in.data + in.shape.size(), out.data);
    const Rect r = draw(in.shape, rng);
    for (int c = 0; c < out.shape.channels; ++c)
      for (int y = r.top; y < r.top + r.height; ++y) {
        float* row = out.plane(c) + static_cast<std::size_t>(y) * out.shape.width + r.left;
        for (int x = 0; x < r.width; ++x) row[x] = random_fill ? rng.normal() : value;
      }
  }
};

}  // namespace fernet::data::augment
