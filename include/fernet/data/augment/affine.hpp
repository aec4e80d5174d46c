#pragma once
// Random affine warp: rotation, shift and scale about the image centre, bilinear sampling.
//
// Geometry: pixel centres sit at integer coordinates and the centre of rotation/scaling is
// ((width - 1) / 2, (height - 1) / 2), so a 90-degree turn maps the pixel grid onto itself.
// A positive angle turns the picture counter-clockwise as displayed (row 0 at the top), as
// torchvision's RandomAffine. Each output pixel samples the input at the inverse-mapped point;
// bilinear interpolation of its four neighbours. Border modes, for neighbours outside the input:
//   Border::constant  they read `fill` (so the picture fades into fill over one pixel at its edge)
//   Border::replicate they read the nearest edge pixel (no dark corners after a rotation)
// Shifts are continuous (torchvision rounds them to whole pixels); scale > 1 zooms in.
#include <algorithm>
#include <cmath>
#include <numbers>
#include <string>

#include "../../random.hpp"
#include "image.hpp"

namespace fernet::data::augment {

enum class Border { constant, replicate };

struct AffineParams {
  float degrees = 0.f;            // counter-clockwise
  float shift_x = 0.f, shift_y = 0.f;  // pixels, right and down
  float scale = 1.f;
};

namespace detail {
inline float bilinear_border(const float* p, int h, int w, int x0, int y0, float fx, float fy, Border border,
                             float fill) {
  auto at = [&](int y, int x) {
    if (border == Border::replicate) return p[std::clamp(y, 0, h - 1) * w + std::clamp(x, 0, w - 1)];
    return (y < 0 || y >= h || x < 0 || x >= w) ? fill : p[y * w + x];
  };
  const float v00 = at(y0, x0), v01 = at(y0, x0 + 1), v10 = at(y0 + 1, x0), v11 = at(y0 + 1, x0 + 1);
  const float top = v00 + fx * (v01 - v00), bottom = v10 + fx * (v11 - v10);
  return top + fy * (bottom - top);
}
}  // namespace detail

// out(y, x) = in(inverse map of (x, y)), for every channel; out may have another size than in
// (the centres are mapped onto each other). out must not alias in.
inline void affine_warp(ConstImageView in, ImageView out, AffineParams t, Border border = Border::constant,
                        float fill = 0.f) {
  if (in.shape.channels != out.shape.channels)
    throw std::invalid_argument("fernet::data::augment::affine_warp: input has " + std::to_string(in.shape.channels) +
                                " channels, output " + std::to_string(out.shape.channels));
  if (!(t.scale > 0.f))
    throw std::invalid_argument("fernet::data::augment::affine_warp: scale must be positive, got " +
                                std::to_string(t.scale));
  const double rad = t.degrees * std::numbers::pi / 180.0;
  const double cs = std::cos(rad) / t.scale, sn = std::sin(rad) / t.scale;
  const double cxi = (in.shape.width - 1) / 2.0, cyi = (in.shape.height - 1) / 2.0;
  const double cxo = (out.shape.width - 1) / 2.0 + t.shift_x, cyo = (out.shape.height - 1) / 2.0 + t.shift_y;
  // source = A * (x, y) + e, with A = R(-angle) / scale.
  const float a = static_cast<float>(cs), b = static_cast<float>(-sn);
  const float c = static_cast<float>(sn), d = static_cast<float>(cs);
  const float ex = static_cast<float>(cxi - (cs * cxo - sn * cyo));
  const float ey = static_cast<float>(cyi - (sn * cxo + cs * cyo));
  const int h = in.shape.height, w = in.shape.width;
  auto pin = [](float v, int size) { return v > -2.f ? (v < size + 1.f ? static_cast<int>(v) : size + 1) : -2; };
  for (int y = 0; y < out.shape.height; ++y) {
    const float row_x = b * y + ex, row_y = d * y + ey;
    for (int x = 0; x < out.shape.width; ++x) {
      const float sx = row_x + a * x, sy = row_y + c * x;
      const float flx = std::floor(sx), fly = std::floor(sy);
      const float fx = sx - flx, fy = sy - fly;
      // Points far outside (or NaN) are pinned just outside the border: their neighbours read
      // fill or the nearest edge, and the int conversion stays in range.
      const bool far = !(flx > -2.f && flx < w + 1.f && fly > -2.f && fly < h + 1.f);
      const int x0 = pin(flx, w), y0 = pin(fly, h);
      const std::size_t o = static_cast<std::size_t>(y) * out.shape.width + x;
      if (x0 >= 0 && x0 + 1 < w && y0 >= 0 && y0 + 1 < h) {  // all four neighbours inside
        const std::size_t i = static_cast<std::size_t>(y0) * w + x0;
        for (int ch = 0; ch < in.shape.channels; ++ch) {
          const float* p = in.plane(ch);
          const float top = p[i] + fx * (p[i + 1] - p[i]), bottom = p[i + w] + fx * (p[i + w + 1] - p[i + w]);
          out.plane(ch)[o] = top + fy * (bottom - top);
        }
      } else if (far && border == Border::constant) {
        for (int ch = 0; ch < in.shape.channels; ++ch) out.plane(ch)[o] = fill;
      } else {
        for (int ch = 0; ch < in.shape.channels; ++ch)
          out.plane(ch)[o] = detail::bilinear_border(in.plane(ch), h, w, x0, y0, fx, fy, border, fill);
      }
    }
  }
}

// Draws rotation uniform in [-degrees, degrees], shifts uniform in [-translate, translate] times
// the width/height, scale uniform in [scale_min, scale_max]; applied with probability p.
struct Affine {
  float degrees = 0.f;
  float translate = 0.f;
  float scale_min = 1.f, scale_max = 1.f;
  Border border = Border::constant;
  float fill = 0.f;
  float p = 1.f;

  AffineParams draw(Shape in, Rng& rng) const {
    // Always the same number of draws, so the transforms after this one see a fixed stream offset.
    const float apply = rng.uniform();
    AffineParams t;
    t.degrees = rng.uniform(-degrees, degrees);
    t.shift_x = rng.uniform(-translate, translate) * in.width;
    t.shift_y = rng.uniform(-translate, translate) * in.height;
    t.scale = rng.uniform(scale_min, scale_max);
    if (!(apply < p)) t = AffineParams{};
    return t;
  }
  Shape output_shape(Shape in) const {
    detail::check_input("Affine", in);
    if (!(scale_min > 0.f && scale_max >= scale_min) || !(degrees >= 0.f) || !(translate >= 0.f))
      throw std::invalid_argument("fernet::data::augment::Affine: needs degrees >= 0, translate >= 0 and "
                                  "0 < scale_min <= scale_max (got " + std::to_string(degrees) + ", " +
                                  std::to_string(translate) + ", " + std::to_string(scale_min) + ".." +
                                  std::to_string(scale_max) + ")");
    return in;
  }
  void apply(ConstImageView in, ImageView out, Rng& rng) const {
    detail::check_output("Affine", output_shape(in.shape), out.shape);
    affine_warp(in, out, draw(in.shape, rng), border, fill);
  }
};

}  // namespace fernet::data::augment
