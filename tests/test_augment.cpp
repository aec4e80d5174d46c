// Augmentation transforms (fernet/data/augment/): geometry that can fail (flips, crops at known
// offsets, identity and quarter-turn warps, erasing confined to its rectangle), determinism from
// (seed, epoch, sample index), thread-count independence, histogram equalisation against
// OpenCV, and mixup's blend of images and soft labels.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <set>
#include <vector>

#include <omp.h>

#include <fernet/data/augment/all.hpp>

#include "reference/augment_reference.hpp"

using namespace fernet;
namespace aug = fernet::data::augment;

namespace {

// Every pixel distinct and its position readable from its value: c * 10000 + y * 100 + x.
std::vector<float> coded_image(aug::Shape s) {
  std::vector<float> v(s.size());
  for (int c = 0; c < s.channels; ++c)
    for (int y = 0; y < s.height; ++y)
      for (int x = 0; x < s.width; ++x) v[(c * s.height + y) * s.width + x] = c * 10000.f + y * 100.f + x;
  return v;
}

std::vector<float> noise_images(int n, aug::Shape s, std::uint64_t seed) {
  Rng rng(seed);
  std::vector<float> v(n * s.size());
  for (auto& x : v) x = rng.uniform(0.f, 255.f);
  return v;
}

bool same_bits(const std::vector<float>& a, const std::vector<float>& b) {
  return a.size() == b.size() && std::memcmp(a.data(), b.data(), a.size() * sizeof(float)) == 0;
}

const aug::Pipeline& training_pipeline() {
  static const aug::Pipeline p{
      aug::RandomCrop{44, 4}, aug::HorizontalFlip{0.5f},
      aug::Affine{.degrees = 10.f, .translate = 0.05f, .scale_min = 0.9f, .scale_max = 1.1f},
      aug::BrightnessContrast{.brightness = 0.2f, .contrast = 0.2f, .black = 0.f, .white = 255.f},
      aug::RandomErasing{.p = 0.5f}};
  return p;
}

}  // namespace

TEST_CASE("augment: flipping twice is the identity; one flip mirrors every row") {
  const aug::Shape s{2, 5, 7};
  const auto img = coded_image(s);
  std::vector<float> once(s.size()), twice(s.size());
  Rng rng(1);
  const aug::HorizontalFlip always{1.f};
  always.apply({img.data(), s}, {once.data(), s}, rng);
  always.apply({once.data(), s}, {twice.data(), s}, rng);
  CHECK(same_bits(img, twice));
  for (int c = 0; c < 2; ++c)
    for (int y = 0; y < 5; ++y)
      for (int x = 0; x < 7; ++x) CHECK(once[(c * 5 + y) * 7 + x] == c * 10000.f + y * 100.f + (6 - x));
  std::vector<float> kept(s.size());
  aug::HorizontalFlip{0.f}.apply({img.data(), s}, {kept.data(), s}, rng);
  CHECK(same_bits(img, kept));
}

TEST_CASE("augment: a crop at a known offset returns those pixels, and padding reads the fill value") {
  const aug::Shape s{1, 48, 48};
  const auto img = coded_image(s);
  std::vector<float> out(44 * 44);
  aug::crop_at({img.data(), s}, {out.data(), {1, 44, 44}}, 3, 1);
  CHECK(out[0] == 301.f);
  CHECK(out[43 * 44 + 43] == 4644.f);
  aug::crop_at({img.data(), s}, {out.data(), {1, 44, 44}}, -2, 6, -1.f);  // two rows of padding on top
  CHECK(out[0] == -1.f);
  CHECK(out[44 + 10] == -1.f);
  CHECK(out[2 * 44 + 0] == 6.f);
  CHECK(out[2 * 44 + 41] == 47.f);
  CHECK(out[2 * 44 + 42] == -1.f);  // past the right edge
  CHECK(out[43 * 44 + 5] == 4111.f);

  std::vector<float> centre(44 * 44), odd(45 * 45);
  aug::CenterCrop{44}.apply({img.data(), s}, {centre.data(), {1, 44, 44}});
  CHECK(centre[0] == 202.f);  // margin 2
  aug::CenterCrop{45}.apply({img.data(), s}, {odd.data(), {1, 45, 45}});
  CHECK(odd[0] == 202.f);  // margin 1.5 rounds to 2, as torchvision
}

TEST_CASE("augment: RandomCrop with padding draws every offset of the padded image and copies that window") {
  const aug::Shape s{1, 10, 12};
  const auto img = coded_image(s);
  const aug::RandomCrop crop{8, 2, -5.f};
  CHECK(crop.output_shape(s) == aug::Shape{1, 8, 8});
  std::set<std::pair<int, int>> offsets;
  std::vector<float> out(64), want(64);
  for (int i = 0; i < 2000; ++i) {  // 63 offsets: each missed with probability 1e-12
    Rng rng(i), replay(i);
    crop.apply({img.data(), s}, {out.data(), {1, 8, 8}}, rng);
    const int top = static_cast<int>(replay.below(10 + 4 - 8 + 1)) - 2;
    const int left = static_cast<int>(replay.below(12 + 4 - 8 + 1)) - 2;
    aug::crop_at({img.data(), s}, {want.data(), {1, 8, 8}}, top, left, -5.f);
    REQUIRE(same_bits(out, want));
    offsets.insert({top, left});
  }
  CHECK(offsets.size() == 7u * 9u);  // tops -2..4, lefts -2..6
  CHECK_THROWS_WITH_AS(aug::RandomCrop(16, 1).output_shape(s),
                       "fernet::data::augment::RandomCrop: crop 16x16 is larger than the input 10x12 padded by 1",
                       std::invalid_argument);
}

TEST_CASE("augment: rotation 0 with scale 1 is the identity; integer shifts move pixels and fill the border") {
  const aug::Shape s{2, 48, 48};
  const auto img = noise_images(1, s, 3);
  std::vector<float> out(s.size());
  for (auto border : {aug::Border::constant, aug::Border::replicate}) {
    aug::affine_warp({img.data(), s}, {out.data(), s}, {}, border);
    CHECK(same_bits(img, out));
  }
  const auto coded = coded_image(s);
  aug::affine_warp({coded.data(), s}, {out.data(), s}, {.shift_x = 3.f, .shift_y = -2.f}, aug::Border::constant, -1.f);
  CHECK(out[10 * 48 + 20] == coded[12 * 48 + 17]);
  CHECK(out[48 * 48 + 5 * 48 + 3] == coded[48 * 48 + 7 * 48 + 0]);
  CHECK(out[10 * 48 + 2] == -1.f);   // came from column -1
  CHECK(out[46 * 48 + 20] == -1.f);  // came from row 48
  aug::affine_warp({coded.data(), s}, {out.data(), s}, {.shift_x = 3.f, .shift_y = -2.f}, aug::Border::replicate);
  CHECK(out[10 * 48 + 2] == coded[12 * 48 + 0]);
  CHECK(out[47 * 48 + 20] == coded[47 * 48 + 17]);
}

TEST_CASE("augment: rotation by 90 degrees is a transpose plus a flip, up to interpolation") {
  const int n = 48;
  const aug::Shape s{1, n, n};
  const auto img = noise_images(1, s, 4);
  std::vector<float> ccw(s.size()), cw(s.size()), half(s.size());
  aug::affine_warp({img.data(), s}, {ccw.data(), s}, {.degrees = 90.f});
  aug::affine_warp({img.data(), s}, {cw.data(), s}, {.degrees = -90.f});
  aug::affine_warp({img.data(), s}, {half.data(), s}, {.degrees = 180.f});
  double worst = 0;
  for (int y = 0; y < n; ++y)
    for (int x = 0; x < n; ++x) {
      // Counter-clockwise on screen: the right edge comes to the top.
      worst = std::max(worst, std::abs(double(ccw[y * n + x]) - img[x * n + (n - 1 - y)]));
      worst = std::max(worst, std::abs(double(cw[y * n + x]) - img[(n - 1 - x) * n + y]));
      worst = std::max(worst, std::abs(double(half[y * n + x]) - img[(n - 1 - y) * n + (n - 1 - x)]));
    }
  CHECK(worst < 1e-3);  // pixel values 0..255; sampling weights are off 0/1 by float rounding only
}

TEST_CASE("augment: scaling about the centre keeps the centre and zooms in") {
  const aug::Shape s{1, 9, 9};
  const auto img = coded_image(s);
  std::vector<float> out(s.size());
  aug::affine_warp({img.data(), s}, {out.data(), s}, {.scale = 2.f});
  CHECK(out[4 * 9 + 4] == doctest::Approx(404.f));
  CHECK(out[4 * 9 + 6] == doctest::Approx(405.f));   // two pixels right of centre read one pixel right
  CHECK(out[4 * 9 + 5] == doctest::Approx(404.5f));  // and half-way points interpolate
  CHECK(out[2 * 9 + 4] == doctest::Approx(304.f));
}

TEST_CASE("augment: random erasing touches only its rectangle, which fits and has the requested area") {
  const aug::Shape s{2, 48, 48};
  const auto img = noise_images(1, s, 5);
  const aug::RandomErasing erase{.p = 1.f, .value = -7.f};
  std::vector<float> out(s.size());
  int erased = 0;
  for (int i = 0; i < 200; ++i) {
    Rng rng(100 + i), replay(100 + i);
    erase.apply({img.data(), s}, {out.data(), s}, rng);
    const aug::Rect r = erase.draw(s, replay);
    if (r.height == 0) continue;
    ++erased;
    REQUIRE(r.top >= 0);
    REQUIRE(r.left >= 0);
    REQUIRE(r.top + r.height <= 48);
    REQUIRE(r.left + r.width <= 48);
    const double area = double(r.height) * r.width / (48 * 48);
    CHECK(area > 0.02 * 0.5);  // rounding of each side moves the area a little
    CHECK(area < 0.33 * 1.5);
    long changed_outside = 0, wrong_inside = 0;
    for (int c = 0; c < 2; ++c)
      for (int y = 0; y < 48; ++y)
        for (int x = 0; x < 48; ++x) {
          const std::size_t k = (c * 48 + y) * 48 + x;
          const bool inside = y >= r.top && y < r.top + r.height && x >= r.left && x < r.left + r.width;
          if (inside) wrong_inside += out[k] != -7.f;
          else changed_outside += out[k] != img[k];
        }
    REQUIRE(changed_outside == 0);
    REQUIRE(wrong_inside == 0);
  }
  CHECK(erased > 190);  // p = 1: only the rare ten failed draws leave an image alone
  Rng rng(9);
  aug::RandomErasing{.p = 0.f}.apply({img.data(), s}, {out.data(), s}, rng);
  CHECK(same_bits(img, out));
}

TEST_CASE("augment: brightness scales the distance from black, contrast keeps the mean, both clamp") {
  const aug::Shape s{1, 6, 6};
  std::vector<float> img(s.size()), out(s.size());
  for (std::size_t i = 0; i < img.size(); ++i) img[i] = -1.f + 0.05f * i;  // -1 .. 0.75, inside [-2, 2]
  Rng rng(2);
  aug::BrightnessContrast{.brightness = 0.5f, .black = -2.f, .white = 2.f}.apply({img.data(), s}, {out.data(), s}, rng);
  const float factor = (out[0] + 2.f) / (img[0] + 2.f);
  CHECK(factor != doctest::Approx(1.f));
  for (std::size_t i = 0; i < img.size(); ++i)
    CHECK(out[i] == doctest::Approx(std::min(2.f, -2.f + factor * (img[i] + 2.f))).epsilon(1e-5));
  aug::BrightnessContrast{.contrast = 0.5f, .black = -2.f, .white = 2.f}.apply({img.data(), s}, {out.data(), s}, rng);
  double mean_in = 0, mean_out = 0;
  for (std::size_t i = 0; i < img.size(); ++i) mean_in += img[i], mean_out += out[i];
  CHECK(mean_out == doctest::Approx(mean_in).epsilon(1e-5));
  CHECK(out[0] != doctest::Approx(img[0]));
  aug::BrightnessContrast{.contrast = 10.f, .black = -2.f, .white = 2.f}.apply({img.data(), s}, {out.data(), s}, rng);
  for (float v : out) CHECK((v >= -2.f && v <= 2.f));
}

TEST_CASE("augment: the same (seed, epoch, sample index) gives the same image; another index or epoch does not") {
  const aug::Shape in{1, 48, 48};
  const auto img = noise_images(1, in, 6);
  const auto& p = training_pipeline();
  const aug::Shape out_shape = p.output_shape(in);
  CHECK(out_shape == aug::Shape{1, 44, 44});
  auto run = [&](std::uint64_t seed, int epoch, std::uint64_t index) {
    std::vector<float> out(out_shape.size());
    Rng rng = aug::sample_rng(seed, epoch, index);
    p.apply({img.data(), in}, {out.data(), out_shape}, rng);
    return out;
  };
  CHECK(same_bits(run(7, 3, 1234), run(7, 3, 1234)));
  CHECK(!same_bits(run(7, 3, 1234), run(7, 3, 1235)));
  CHECK(!same_bits(run(7, 3, 1234), run(7, 4, 1234)));
  CHECK(!same_bits(run(7, 3, 1234), run(8, 3, 1234)));
  std::vector<float> wrong(48 * 48);
  Rng rng(0);
  CHECK_THROWS_WITH_AS(p.apply({img.data(), in}, {wrong.data(), in}, rng),
                       "fernet::data::augment::Pipeline: output view is 1x48x48 but the transform makes 1x44x44",
                       std::invalid_argument);
}

TEST_CASE("augment: a batch comes out bit-identical with 1 and 2 threads and in any sample order") {
  const aug::Shape in{1, 48, 48};
  const int n = 64;
  const auto images = noise_images(n, in, 8);
  const auto& p = training_pipeline();
  const aug::Shape out_shape = p.output_shape(in);
  std::vector<std::uint64_t> index(n);
  for (int i = 0; i < n; ++i) index[i] = 1000 + 37 * i;  // positions in the data set
  const int before = omp_get_max_threads();
  std::vector<float> one(n * out_shape.size()), two(one.size());
  omp_set_num_threads(1);
  aug::apply_batch(p, images.data(), in, one.data(), n, 42, 2, index.data());
  omp_set_num_threads(2);
  aug::apply_batch(p, images.data(), in, two.data(), n, 42, 2, index.data());
  omp_set_num_threads(before);
  CHECK(same_bits(one, two));
  // Sample 5 alone, as in another batch, gives its slice of the batch result.
  std::vector<float> alone(out_shape.size());
  aug::apply_batch(p, images.data() + 5 * in.size(), in, alone.data(), 1, 42, 2, &index[5]);
  CHECK(std::memcmp(alone.data(), one.data() + 5 * out_shape.size(), alone.size() * sizeof(float)) == 0);
}

TEST_CASE("augment: the in-place hook keeps the size or says why it cannot") {
  const aug::Shape s{1, 48, 48};
  auto img = noise_images(1, s, 9);
  const auto original = img;
  auto hook = aug::in_place(aug::Pipeline{aug::RandomCrop{48, 4}, aug::HorizontalFlip{1.f}});
  Rng rng(3);
  hook(img.data(), 1, 48, 48, rng);
  CHECK(!same_bits(img, original));
  auto shrinking = aug::in_place(aug::Pipeline{aug::RandomCrop{44}});
  CHECK_THROWS_WITH_AS(shrinking(img.data(), 1, 48, 48, rng),
                       "fernet::data::augment::in_place: the pipeline turns 1x48x48 into 1x44x44; an in-place hook "
                       "must keep the size",
                       std::invalid_argument);
}

TEST_CASE("augment: histogram equalisation equals OpenCV's equalizeHist") {
  namespace ref = fernet_augment_reference;
  const int pixels = ref::height * ref::width;
  auto check = [&](const unsigned char* in, const unsigned char* want, const char* name) {
    INFO(name);
    std::vector<std::uint8_t> out(pixels);
    aug::equalize_histogram(in, out.data(), pixels);
    int mismatches = 0;
    for (int i = 0; i < pixels; ++i) mismatches += out[i] != want[i];
    CHECK(mismatches == 0);
  };
  check(ref::uniform_in, ref::uniform_equalized, "uniform");
  check(ref::narrow_in, ref::narrow_equalized, "narrow");
  check(ref::skewed_in, ref::skewed_equalized, "skewed");
  check(ref::two_levels_in, ref::two_levels_equalized, "two_levels");
  std::vector<std::uint8_t> flat(30, 77);
  aug::equalize_histogram(flat.data(), flat.data(), flat.size());  // one level stays put (OpenCV)
  for (auto v : flat) CHECK(v == 77);
}

TEST_CASE("augment: mixup blends reversed pairs of images and their (smoothed) one-hot labels") {
  const int n = 5, k = 4;
  const std::size_t per = 6;
  std::vector<float> images(n * per);
  for (std::size_t i = 0; i < images.size(); ++i) images[i] = static_cast<float>(i);
  const auto original = images;
  const int labels[n] = {0, 1, 2, 3, 1};
  std::vector<float> targets(n * k);
  Rng rng = aug::batch_rng(1, 1, 0);
  const float lambda =
      aug::Mixup{.alpha = 0.4f, .label_smoothing = 0.1f}.apply(images.data(), labels, n, per, k, targets.data(), rng);
  REQUIRE(lambda >= 0.f);
  REQUIRE(lambda <= 1.f);
  for (int i = 0; i < n; ++i) {
    const int j = n - 1 - i;
    for (std::size_t p = 0; p < per; ++p)
      CHECK(images[i * per + p] ==
            doctest::Approx(lambda * original[i * per + p] + (1 - lambda) * original[j * per + p]));
    double sum = 0;
    for (int c = 0; c < k; ++c) {
      const float own = 0.1f / k + (c == labels[i] ? 0.9f : 0.f), other = 0.1f / k + (c == labels[j] ? 0.9f : 0.f);
      CHECK(targets[i * k + c] == doctest::Approx(lambda * own + (1 - lambda) * other));
      sum += targets[i * k + c];
    }
    CHECK(sum == doctest::Approx(1.0));
  }
  // Beta(a, a): mean 1/2 and variance 1 / (4 (2a + 1)).
  for (double a : {0.2, 1.0, 2.5}) {
    Rng r(77);
    double s = 0, s2 = 0;
    const int draws = 20000;
    for (int i = 0; i < draws; ++i) {
      const double x = aug::sample_beta(r, a, a);
      s += x;
      s2 += x * x;
    }
    const double mean = s / draws, var = s2 / draws - mean * mean;
    CHECK(mean == doctest::Approx(0.5).epsilon(0.02));
    CHECK(var == doctest::Approx(1.0 / (4 * (2 * a + 1))).epsilon(0.05));
  }
}

TEST_CASE("augment: a crop window wholly outside the image is all fill") {
  const aug::Shape s{1, 4, 4};
  const auto img = coded_image(s);
  std::vector<float> out(9);
  for (auto [top, left] : {std::pair{-5, 0}, std::pair{0, -5}, std::pair{6, 1}, std::pair{1, 9}}) {
    aug::crop_at({img.data(), s}, {out.data(), {1, 3, 3}}, top, left, 2.5f);
    for (float v : out) CHECK(v == 2.5f);
  }
}
