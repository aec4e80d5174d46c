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
#include <vector>

#include "../../random.hpp"
#include "image.hpp"

namespace fernet::data::augment {

enum class Border { constant, replicate };

struct AffineParams {
  float degrees = 0.f;                 // counter-clockwise
  float shift_x = 0.f, shift_y = 0.f;  // pixels, right and down
  float scale = 1.f;
};

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
  // Each plane is copied into one padded by two pixels of the border rule (fill, or the edge
  // repeated); sample points are clamped into the padding, so every pixel takes the same
  // branch-free path and points far outside read fill or the nearest edge.
  const int h = in.shape.height, w = in.shape.width, pw = w + 4;
  std::vector<float> padded(static_cast<std::size_t>(h + 4) * pw);
  for (int ch = 0; ch < in.shape.channels; ++ch) {
    const float* src = in.plane(ch);
    for (int y = -2; y < h + 2; ++y)
      for (int x = -2; x < w + 2; ++x) {
        const bool inside = y >= 0 && y < h && x >= 0 && x < w;
        const float v =
            inside || border == Border::replicate ? src[std::clamp(y, 0, h - 1) * w + std::clamp(x, 0, w - 1)] : fill;
        padded[static_cast<std::size_t>(y + 2) * pw + x + 2] = v;
      }
    float* dst = out.plane(ch);
    for (int y = 0; y < out.shape.height; ++y) {
      const float row_x = b * y + ex, row_y = d * y + ey;
      for (int x = 0; x < out.shape.width; ++x) {
        float sx = row_x + a * x, sy = row_y + c * x;
        sx = sx > -2.f ? (sx < w ? sx : static_cast<float>(w)) : -2.f;  // NaN goes to -2
        sy = sy > -2.f ? (sy < h ? sy : static_cast<float>(h)) : -2.f;
        const float flx = std::floor(sx), fly = std::floor(sy);
        const float fx = sx - flx, fy = sy - fly;
        const float* q =
            padded.data() + static_cast<std::size_t>(static_cast<int>(fly) + 2) * pw + (static_cast<int>(flx) + 2);
        const float top = q[0] + fx * (q[1] - q[0]), bottom = q[pw] + fx * (q[pw + 1] - q[pw]);
        dst[static_cast<std::size_t>(y) * out.shape.width + x] = top + fy * (bottom - top);
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
      throw std::invalid_argument(
          "fernet::data::augment::Affine: needs degrees >= 0, translate >= 0 and "
          "0 < scale_min <= scale_max (got " +
          std::to_string(degrees) + ", " + std::to_string(translate) + ", " + std::to_string(scale_min) + ".." +
          std::to_string(scale_max) + ")");
    return in;
  }
  void apply(ConstImageView in, ImageView out, Rng& rng) const {
    detail::check_output("Affine", output_shape(in.shape), out.shape);
    affine_warp(in, out, draw(in.shape, rng), border, fill);
  }
};

}  // namespace fernet::data::augment
