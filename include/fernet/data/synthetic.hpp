#pragma once
// A procedural stand-in for FER2013, so that examples and tests run without the real data: 48x48
// grey cartoon faces whose seven expressions differ the way real ones do (mouth curvature and
// opening, brow height and slant, eye opening), drawn with the nuisances that make FER2013 hard
// for a linear model (position, scale, tilt, face shape, hair, lighting, contrast, background,
// noise, expression strength). Classes overlap a little: weak expressions look neutral.
//
// Deterministic: image i of a split depends only on (seed, split, i), and all randomness comes
// from the xoshiro256** generator below (no std:: distributions, whose output differs between
// standard libraries; no libm sin/exp either, only +-*/ and sqrt, which IEEE fixes exactly), so
// the bytes do not depend on the thread count or the standard library.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>
#include <vector>

#include "../random.hpp"
#include "fer2013_dataset.hpp"

namespace fernet::data {

struct SyntheticOptions {
  std::size_t training = 7000, public_test = 1400, private_test = 0;
  std::uint64_t seed = 2013;
};

namespace detail {

// Seed for one stream, e.g. (seed, split) then (that, image index).
inline std::uint64_t mix_seed(std::uint64_t a, std::uint64_t b) { return hash64(a, b); }

// fernet's generator with the draws the face sampler needs, in double precision.
class Rng : public fernet::Rng {
 public:
  using fernet::Rng::Rng;
  double uniform() { return static_cast<double>(next() >> 11) * 0x1.0p-53; }  // [0, 1)
  double uniform(double lo, double hi) { return lo + (hi - lo) * uniform(); }
  bool chance(double p) { return uniform() < p; }

  // Approximately normal (sum of four uniforms), mean 0, sd 1, never beyond +-3.5: bounded
  // jitter keeps every face drawable, and it needs no log/cos.
  double normal() {
    // The four 16-bit parts of one draw, summed as integers: one conversion to double, not four.
    constexpr std::uint64_t low_halves = 0x0000FFFF0000FFFFull;
    const std::uint64_t bits = next();
    const std::uint64_t pairs = (bits & low_halves) + ((bits >> 16) & low_halves);
    const auto sum = static_cast<std::int32_t>((pairs & 0xFFFFFFFF) + (pairs >> 32));
    return (static_cast<double>(sum) * (1.0 / 65536.0) - 2.0) * 1.7320508075688772;
  }
};

// What an expression changes, in face units (pixels of a face drawn at scale 1).
struct Expression {
  double eye_open;     // half-height of the eye opening
  double brow_inner;   // height of the brow's inner end above the eye centre
  double brow_outer;   // height of its outer end
  double brow_inset;   // inner ends pulled toward the nose (frown)
  double mouth_width;  // half-width
  double mouth_curve;  // corners above (+, smile) or below (-) the mouth centre
  double mouth_open;   // height of the opening at the centre
  double mouth_sneer;  // upper lip raised on one side
};

// Indexed by label: Angry Disgust Fear Happy Sad Surprise Neutral.
inline constexpr std::array<Expression, num_classes> expression_prototypes = {{
    {1.4, 2.0, 4.6, 1.4, 4.4, -0.6, 0.0, 0.0},  // Angry: lowered, drawn-in brows; tight mouth
    {1.1, 2.8, 3.6, 0.7, 5.0, -1.0, 0.6, 2.4},  // Disgust: lowered brows, lip raised on one side
    {2.7, 7.0, 5.2, 0.5, 6.4, -0.9, 1.8, 0.0},  // Fear: wide eyes, raised brows, mouth ajar
    {1.2, 5.0, 5.0, 0.0, 7.6, 3.0, 0.8, 0.0},   // Happy: wide upturned mouth, narrowed eyes
    {1.4, 6.8, 3.6, 0.2, 5.4, -2.4, 0.0, 0.0},  // Sad: downturned mouth, raised inner brows
    {2.9, 7.6, 7.4, 0.0, 3.4, 0.0, 5.0, 0.0},   // Surprise: round open mouth, high brows
    {1.7, 4.5, 4.5, 0.0, 5.6, 0.0, 0.0, 0.0},   // Neutral
}};
inline constexpr int neutral_label = 6;

// FER2013 training class frequencies (3995 436 4097 7215 4830 3171 4965 of 28709).
inline constexpr std::array<double, num_classes> fer2013_class_share = {0.1392, 0.0152, 0.1427, 0.2513,
                                                                        0.1682, 0.1105, 0.1729};

// Per-pixel helpers; shapes keep inverses because they are evaluated for every pixel.

// Fraction of a pixel covered by a shape, from the signed distance (pixels, < 0 inside) of the
// pixel centre to the shape's edge: a one-pixel ramp, i.e. cheap anti-aliasing.
inline double coverage(double distance_px) { return std::clamp(0.5 - distance_px, 0.0, 1.0); }

inline double mix(double under, double over, double alpha) { return under + alpha * (over - under); }

// Axis-aligned, centred on the origin.
struct Ellipse {
  double rx = 1, ry = 1, inv_rx = 1, inv_ry = 1;
  Ellipse() = default;
  Ellipse(double x_radius, double y_radius) : rx(x_radius), ry(y_radius), inv_rx(1 / x_radius), inv_ry(1 / y_radius) {}
  // Approximate signed distance (exact on the axes; good enough for a one-pixel ramp).
  double distance(double x, double y) const {
    const double xn = x * inv_rx, yn = y * inv_ry;
    return (std::sqrt(xn * xn + yn * yn) - 1) * std::min(rx, ry);
  }
};

struct Segment {
  double x0 = 0, y0 = 0, dx = 0, dy = 0, inv_length2 = 0;
  Segment() = default;
  Segment(double ax, double ay, double bx, double by)
      : x0(ax), y0(ay), dx(bx - ax), dy(by - ay), inv_length2(1 / (dx * dx + dy * dy)) {}
  double distance(double x, double y) const {
    const double t = std::clamp(((x - x0) * dx + (y - y0) * dy) * inv_length2, 0.0, 1.0);
    const double ex = x - x0 - t * dx, ey = y - y0 - t * dy;
    return std::sqrt(ex * ex + ey * ey);
  }
};

// Where a feature can change pixels: tested first, so most pixels skip the feature's maths.
struct Box {
  double left = 0, right = 0, top = 0, bottom = 0;
  bool contains(double x, double y) const { return x > left && x < right && y > top && y < bottom; }
};

// Everything random about one image, plus the shapes derived from it. Face units: pixels of a
// face drawn at scale 1; u to the right, v down, origin at the face centre.
struct Face {
  Expression expr;
  double centre_x, centre_y, scale, cos_tilt, sin_tilt;  // face -> image placement
  double half_width, half_height, inv_half_width, inv_half_height;
  double head_solid_r2;  // inside this (squared, normalised) radius the head covers whole pixels
  double feature_shift;  // eyes, nose and mouth off the head's midline: a face turned slightly
  double eye_x, eye_y, nose_y, mouth_y, gaze, brow_thickness;
  int sneer_side;  // which corner of the lip a sneer raises
  Ellipse hair_outline, eye;
  Box features;                          // all of eyes, brows, nose and mouth; the boxes are relative to feature_shift
  std::array<Box, 2> eye_box, brow_box;  // [0]: left, [1]: right
  std::array<Segment, 2> brow_inner, brow_outer;  // inner end -> arch, arch -> outer end
  double nostril_y, inv_mouth_width, mouth_reach;
  double skin, brow_tone, hair_tone, hairline;
  bool has_hair;
  double background, background_texture;
  std::array<double, 49> background_grid;  // 7x7 coarse noise, bilinearly interpolated
  double light_x, light_y, brightness, contrast, noise;
};

inline Face sample_face(int label, Rng& rng) {
  Face f{};
  // Expression strength: weak ones drift toward neutral, which is where classes overlap.
  const Expression& target = expression_prototypes[static_cast<std::size_t>(label)];
  const Expression& neutral = expression_prototypes[neutral_label];
  const double strength = rng.uniform(0.45, 1.15);
  const auto towards = [&](double Expression::*field, double jitter) {
    return neutral.*field + strength * (target.*field - neutral.*field) + jitter * rng.normal();
  };
  Expression& e = f.expr;
  e.eye_open = std::max(0.5, towards(&Expression::eye_open, 0.25));
  e.brow_inner = towards(&Expression::brow_inner, 0.55);
  e.brow_outer = towards(&Expression::brow_outer, 0.55);
  e.brow_inset = std::max(0.0, towards(&Expression::brow_inset, 0.3));
  e.mouth_width = std::max(2.5, towards(&Expression::mouth_width, 0.5));
  e.mouth_curve = towards(&Expression::mouth_curve, 0.45);
  e.mouth_open = std::max(0.0, towards(&Expression::mouth_open, 0.35));
  e.mouth_sneer = std::max(0.0, towards(&Expression::mouth_sneer, 0.3));
  if (label == 3 && rng.chance(0.4)) e.mouth_open += rng.uniform(1.0, 2.5);  // open smiles

  f.centre_x = 24 + rng.uniform(-3, 3);
  f.centre_y = 25 + rng.uniform(-3, 3);
  f.scale = rng.uniform(1.0, 1.3);          // like FER2013's crops: the face fills most of the frame
  const double tilt = 0.07 * rng.normal();  // radians, |tilt| < 0.25: Taylor series suffice
  const double t2 = tilt * tilt;
  f.sin_tilt = tilt * (1 - t2 / 6 * (1 - t2 / 20));
  f.cos_tilt = 1 - t2 / 2 * (1 - t2 / 12 * (1 - t2 / 30));
  f.half_width = 14.5 * rng.uniform(0.92, 1.08);
  f.half_height = 18.5 * rng.uniform(0.94, 1.06);
  f.inv_half_width = 1 / f.half_width;
  f.inv_half_height = 1 / f.half_height;
  const double solid = 1 - 1 / (f.scale * std::min(f.half_width, f.half_height));
  f.head_solid_r2 = solid * solid;
  f.feature_shift = rng.uniform(-1.5, 1.5);
  f.eye_x = rng.uniform(5.8, 7.2);
  f.eye_y = rng.uniform(-4.5, -2.5);
  f.nose_y = rng.uniform(2.5, 4.0);
  f.mouth_y = rng.uniform(8.5, 10.5);
  f.gaze = rng.uniform(-0.8, 0.8);
  const double brow_arch = rng.uniform(0.3, 1.1);
  f.brow_thickness = rng.uniform(0.9, 1.8);
  f.sneer_side = rng.chance(0.5) ? 1 : -1;

  f.hair_outline = Ellipse(f.half_width + 1.5, f.half_height + 2);
  f.eye = Ellipse(3.0, e.eye_open);
  // Socket shadow, or eye and lid (the ellipse distance stretches along a long axis), + a pixel.
  const double eye_reach = std::max(3.4, 1.35 * e.eye_open + 1);
  const double inner_y = f.eye_y - e.brow_inner, outer_y = f.eye_y - e.brow_outer;
  const double arch_y = 0.5 * (inner_y + outer_y) - brow_arch;
  const double brow_reach = 0.5 * f.brow_thickness + 1;
  for (std::size_t side = 0; side < 2; ++side) {
    const double sign = side == 0 ? -1 : 1;
    f.eye_box[side] = {sign * f.eye_x - 5, sign * f.eye_x + 5, f.eye_y - eye_reach, f.eye_y + eye_reach};
    const double inner_x = sign * (f.eye_x - 3.6 - e.brow_inset), outer_x = sign * (f.eye_x + 3.6);
    const double arch_x = 0.5 * (inner_x + outer_x);
    f.brow_inner[side] = Segment(inner_x, inner_y, arch_x, arch_y);
    f.brow_outer[side] = Segment(arch_x, arch_y, outer_x, outer_y);
    f.brow_box[side] = {std::min(inner_x, outer_x) - brow_reach, std::max(inner_x, outer_x) + brow_reach,
                        std::min({inner_y, outer_y, arch_y}) - brow_reach,
                        std::max({inner_y, outer_y, arch_y}) + brow_reach};
  }
  f.nostril_y = f.nose_y - 0.3 * e.mouth_sneer;  // a sneer pulls the nose up
  f.inv_mouth_width = 1 / e.mouth_width;
  f.mouth_reach = 2 + 0.5 * e.mouth_open + e.mouth_sneer + std::abs(e.mouth_curve);
  const double mouth_half_width = e.mouth_width + 1.5;
  f.features = {std::min(f.eye_box[0].left, f.brow_box[0].left), std::max(f.eye_box[1].right, f.brow_box[1].right),
                std::min(f.eye_box[0].top, f.brow_box[0].top), f.mouth_y + f.mouth_reach};
  f.features.left = std::min(f.features.left, -mouth_half_width);
  f.features.right = std::max(f.features.right, mouth_half_width);

  f.skin = rng.uniform(0.35, 0.85);
  f.brow_tone = f.skin * rng.uniform(0.2, 0.5);
  f.has_hair = rng.chance(0.8);
  f.hair_tone = rng.chance(0.85) ? rng.uniform(0.02, 0.35) : rng.uniform(0.6, 0.9);
  f.hairline = -f.half_height * rng.uniform(0.68, 0.85);
  f.background = rng.uniform(0.05, 0.95);
  f.background_texture = rng.uniform(0.03, 0.25);
  for (double& g : f.background_grid) g = rng.uniform(-1, 1);
  f.light_x = rng.uniform(-0.3, 0.3);
  f.light_y = rng.uniform(-0.3, 0.3);
  f.brightness = rng.uniform(-0.12, 0.12);
  f.contrast = rng.uniform(0.7, 1.25);
  f.noise = rng.uniform(0.01, 0.04);
  return f;
}

// Grey level in [0, 1] (before lighting) at face coordinates (u, v), over the grey level `under`
// of what lies behind the face.
inline double shade_face(const Face& f, double u, double v, double under) {
  const double px = f.scale;  // face units -> pixels, for anti-aliasing widths
  const double a = f.half_width, b = f.half_height;
  double g = under;

  // Neck, then the head: an egg, narrower toward the chin, darker toward its rim.
  const double un = u * f.inv_half_width, vn = v * f.inv_half_height;  // the head is |(un,vn)| < 1
  const double neck = std::max(std::abs(u) - 0.42 * a, 0.6 * b - v);
  g = mix(g, f.skin * 0.78, coverage(neck * px));
  const double rim = un * un + vn * vn;
  if (rim > 1.69) return g;  // beyond head and hair by at least two face units: a quick exit
  const double chin_taper = 1 + 0.15 * std::clamp(vn, 0.0, 1.0);  // widens un: a narrower chin
  const double head_r2 = un * un * chin_taper * chin_taper + vn * vn;
  // Most face pixels lie a pixel or more inside, fully covered: no need for the distance.
  const double head = head_r2 < f.head_solid_r2 ? 1.0 : coverage((std::sqrt(head_r2) - 1) * std::min(a, b) * px);
  g = mix(g, f.skin * (1.05 - 0.25 * rim), head);
  if (f.has_hair && v < f.hairline + 5) {
    const double hair_edge = v - (f.hairline + 3 * un * un);  // lower at the sides
    const double hair = std::max(f.hair_outline.distance(u, v), hair_edge);
    g = mix(g, f.hair_tone, coverage(hair * px));
  }
  const double fu = u - f.feature_shift;
  if (std::abs(u) > a || std::abs(v) > b || !f.features.contains(fu, v)) return g;

  const Expression& e = f.expr;
  for (std::size_t side = 0; side < 2; ++side) {
    const double sign = side == 0 ? -1 : 1;
    if (f.eye_box[side].contains(fu, v)) {  // socket shadow, white, iris, upper lid
      const double eu = fu - sign * f.eye_x, ev = v - f.eye_y;
      const double socket = (eu * eu) * (1 / (4.2 * 4.2)) + (ev * ev) * (1 / (3.4 * 3.4));
      g *= 1 - 0.18 * std::max(0.0, 1 - socket);
      const double eye = f.eye.distance(eu, ev);
      const double white = coverage(eye * px);
      g = mix(g, std::min(1.0, f.skin * 1.1 + 0.15), white);
      const double iris = std::sqrt((eu - f.gaze) * (eu - f.gaze) + ev * ev) - 1.5;
      g = mix(g, f.skin * 0.2, white * coverage(iris * px));
      if (ev < 0.5) g = mix(g, f.brow_tone, coverage((std::abs(eye) - 0.35) * px));
    }
    if (f.brow_box[side].contains(fu, v)) {
      const double brow = std::min(f.brow_inner[side].distance(fu, v), f.brow_outer[side].distance(fu, v));
      g = mix(g, f.brow_tone, coverage((brow - 0.5 * f.brow_thickness) * px));
    }
    const double nu = fu - sign * 1.6, nv = v - f.nostril_y;
    if (std::abs(nu) < 2 && std::abs(nv) < 2)
      g = mix(g, f.skin * 0.55, 0.8 * coverage((std::sqrt(nu * nu + nv * nv) - 0.9) * px));
  }

  // Mouth: a centre line curved by mouth_curve, an opening around it, lips around that.
  const double mu = fu, mv = v - f.mouth_y, hw = e.mouth_width;
  if (std::abs(mu) < hw + 1.5 && std::abs(mv) < f.mouth_reach) {
    const double s = std::clamp(mu * f.inv_mouth_width, -1.0, 1.0);
    const double centre = -e.mouth_curve * s * s;
    const double slope = -2 * e.mouth_curve * s * f.inv_mouth_width;
    const double across = std::sqrt(1 + slope * slope);  // vertical -> normal distance
    const double half_open = 0.5 * e.mouth_open * std::sqrt(1 - s * s);
    const double top = centre - half_open - e.mouth_sneer * std::max(0.0, f.sneer_side * s);
    const double bottom = centre + half_open;
    const double beyond_corner = std::abs(mu) - hw;
    const double lips = std::max(std::max(top - 0.7 - mv, mv - bottom - 0.9) / across, beyond_corner - 0.3);
    g = mix(g, f.skin * 0.62, coverage(lips * px));
    if (bottom > top) {
      const double opening = std::max(std::max(top - mv, mv - bottom) / across, beyond_corner);
      g = mix(g, 0.08, coverage(opening * px));
    }
  }
  return g;
}

inline void render_face(const Face& f, Rng& rng, std::uint8_t* out) {
  constexpr double grid_step = 6.0 / (image_side - 1);                        // pixel -> background grid coordinate
  constexpr double centre = (image_side - 1) / 2.0, half = image_side / 2.0;  // for the lighting
  const double inv_scale = 1 / f.scale;
  for (int y = 0; y < image_side; ++y) {
    // Background texture: the coarse grid interpolated to this row first, then along it.
    const double gy = y * grid_step;
    const std::size_t iy = std::min(static_cast<std::size_t>(gy), std::size_t{5});
    const double fy = gy - static_cast<double>(iy);
    std::array<double, 7> row_texture;
    for (std::size_t c = 0; c < 7; ++c)
      row_texture[c] = mix(f.background_grid[iy * 7 + c], f.background_grid[iy * 7 + 7 + c], fy);
    const double dy = y + 0.5 - f.centre_y;
    const double row_light = 1 + f.light_y * (y - centre) / half, light_step = f.light_x / half;
    for (int x = 0; x < image_side; ++x) {
      const double gx = x * grid_step;
      const std::size_t ix = std::min(static_cast<std::size_t>(gx), std::size_t{5});
      const double texture = mix(row_texture[ix], row_texture[ix + 1], gx - static_cast<double>(ix));
      const double background = f.background + f.background_texture * texture;

      // Image -> face coordinates: undo shift, tilt and scale.
      const double dx = x + 0.5 - f.centre_x;
      const double u = (f.cos_tilt * dx + f.sin_tilt * dy) * inv_scale;
      const double v = (f.cos_tilt * dy - f.sin_tilt * dx) * inv_scale;
      double g = shade_face(f, u, v, background);

      const double light = row_light + light_step * (x - centre);
      g = (g * light - 0.5) * f.contrast + 0.5 + f.brightness + f.noise * rng.normal();
      out[y * image_side + x] = static_cast<std::uint8_t>(std::clamp(g, 0.0, 1.0) * 255 + 0.5);
    }
  }
}

// n labels with FER2013's class shares (largest remainder; each class at least once when n >= 7),
// in a random order.
inline std::vector<std::uint8_t> synthetic_labels(std::size_t n, Rng& rng) {
  constexpr std::size_t classes = num_classes;
  std::array<std::size_t, classes> counts{};
  std::array<double, classes> remainder{};
  std::size_t assigned = 0;
  for (std::size_t c = 0; c < classes; ++c) {
    const double exact = static_cast<double>(n) * fer2013_class_share[c];
    counts[c] = static_cast<std::size_t>(exact);
    if (n >= classes && counts[c] == 0) counts[c] = 1;
    remainder[c] = exact - static_cast<double>(counts[c]);
    assigned += counts[c];
  }
  while (assigned != n) {  // hand out (or, after the minimum of one, take back) the remainder
    const bool add = assigned < n;
    std::size_t pick = classes;
    for (std::size_t c = 0; c < classes; ++c) {
      if (!add && counts[c] <= 1) continue;
      if (pick == classes || (add ? remainder[c] > remainder[pick] : remainder[c] < remainder[pick])) pick = c;
    }
    if (add) {
      ++counts[pick], --remainder[pick], ++assigned;
    } else {
      --counts[pick], ++remainder[pick], --assigned;
    }
  }
  std::vector<std::uint8_t> labels;
  labels.reserve(n);
  for (std::size_t c = 0; c < classes; ++c) labels.insert(labels.end(), counts[c], static_cast<std::uint8_t>(c));
  for (std::size_t i = labels.size(); i > 1; --i) {  // Fisher-Yates
    const auto j = static_cast<std::size_t>(rng.uniform() * static_cast<double>(i));
    std::swap(labels[i - 1], labels[j]);
  }
  return labels;
}

}  // namespace detail

// Training rows, then PublicTest, then PrivateTest, like the Kaggle file.
inline Fer2013 make_synthetic(const SyntheticOptions& options = {}) {
  const std::array<std::pair<Split, std::size_t>, 3> splits = {{
      {Split::Training, options.training},
      {Split::PublicTest, options.public_test},
      {Split::PrivateTest, options.private_test},
  }};
  Fer2013 out;
  for (const auto& [split, n] : splits) {
    const std::uint64_t split_seed = detail::mix_seed(options.seed, static_cast<std::uint64_t>(split));
    detail::Rng order(detail::mix_seed(split_seed, ~std::uint64_t{0}));
    const std::vector<std::uint8_t> labels = detail::synthetic_labels(n, order);
    const std::size_t first = out.size();
    out.labels.insert(out.labels.end(), labels.begin(), labels.end());
    out.usage.insert(out.usage.end(), n, split);
    out.pixels.resize(out.size() * image_pixels);
    const auto count = static_cast<std::ptrdiff_t>(n);
#pragma omp parallel for schedule(dynamic, 64)
    for (std::ptrdiff_t i = 0; i < count; ++i) {
      detail::Rng rng(detail::mix_seed(split_seed, static_cast<std::uint64_t>(i)));
      const detail::Face face = detail::sample_face(labels[static_cast<std::size_t>(i)], rng);
      detail::render_face(face, rng, out.pixels.data() + (first + static_cast<std::size_t>(i)) * image_pixels);
    }
  }
  return out;
}

}  // namespace fernet::data
