// The procedural synthetic FER2013 stand-in: sizes, determinism, class balance, sane pixels.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <numeric>

#include <fernet/data/synthetic.hpp>
#include <fernet/parallel.hpp>

namespace {

using namespace fernet::data;

SyntheticOptions small_options(std::uint64_t seed = 7) {
  SyntheticOptions o;
  o.training = 700;
  o.public_test = 140;
  o.private_test = 70;
  o.seed = seed;
  return o;
}

}  // namespace

TEST_CASE("synthetic: sizes, split order and defaults") {
  const Fer2013 d = make_synthetic(small_options());
  REQUIRE(d.size() == 910);
  CHECK(d.pixels.size() == 910u * image_pixels);
  CHECK(d.usage.size() == 910);
  CHECK(std::all_of(d.usage.begin(), d.usage.begin() + 700, [](Split s) { return s == Split::Training; }));
  CHECK(std::all_of(d.usage.begin() + 700, d.usage.begin() + 840, [](Split s) { return s == Split::PublicTest; }));
  CHECK(std::all_of(d.usage.begin() + 840, d.usage.end(), [](Split s) { return s == Split::PrivateTest; }));

  const SyntheticOptions defaults;
  CHECK(defaults.training == 7000);
  CHECK(defaults.public_test == 1400);
  CHECK(defaults.private_test == 0);
  CHECK(defaults.seed == 2013);

  SyntheticOptions none;
  none.training = none.public_test = 0;
  CHECK(make_synthetic(none).size() == 0);
}

TEST_CASE("synthetic: deterministic from the seed, whatever the thread count") {
  const int threads_before = fernet::threads();
  fernet::set_threads(1);
  const Fer2013 one_thread = make_synthetic(small_options(7));
  fernet::set_threads(4);
  const Fer2013 four_threads = make_synthetic(small_options(7));
  fernet::set_threads(threads_before);
  CHECK(one_thread.pixels == four_threads.pixels);
  CHECK(one_thread.labels == four_threads.labels);
  CHECK(one_thread.usage == four_threads.usage);

  const Fer2013 other_seed = make_synthetic(small_options(8));
  CHECK(other_seed.pixels != one_thread.pixels);
  CHECK(other_seed.labels != one_thread.labels);
}

TEST_CASE("synthetic: every class in every split, shares like FER2013") {
  const Fer2013 d = make_synthetic(small_options());
  for (const Split s : {Split::Training, Split::PublicTest, Split::PrivateTest}) {
    CAPTURE(split_name(s));
    const auto counts = d.split(s).class_counts();
    CHECK(std::all_of(counts.begin(), counts.end(), [](std::size_t c) { return c > 0; }));
  }
  const auto counts = d.split(Split::Training).class_counts();
  CHECK(std::max_element(counts.begin(), counts.end()) - counts.begin() == 3);  // Happy
  CHECK(std::min_element(counts.begin(), counts.end()) - counts.begin() == 1);  // Disgust
  CHECK(counts[3] == 176);                                                      // 25.1% of 700

  SyntheticOptions tiny;
  tiny.training = 7;
  tiny.public_test = 0;
  const auto seven = make_synthetic(tiny).class_counts();
  CHECK(std::all_of(seven.begin(), seven.end(), [](std::size_t c) { return c == 1; }));
}

TEST_CASE("synthetic: pixel statistics are sane") {
  const Fer2013 d = make_synthetic(small_options());
  double sum = 0, sum_sq = 0;
  for (const std::uint8_t p : d.pixels) {
    sum += p;
    sum_sq += static_cast<double>(p) * p;
  }
  const double n = static_cast<double>(d.pixels.size());
  const double mean = sum / n, sd = std::sqrt(sum_sq / n - mean * mean);
  CHECK(mean > 80);
  CHECK(mean < 180);
  CHECK(sd > 30);
  for (std::size_t i = 0; i < d.size(); ++i) {
    const auto [lo, hi] = std::minmax_element(d.image(i), d.image(i) + image_pixels);
    CHECK(*hi - *lo > 60);  // every image has a visible face, none is flat
  }
}

TEST_CASE("synthetic: expressions follow their descriptions") {
  // Sampled parameters, before any nuisance is applied: mostly on the described side of Neutral.
  using detail::Expression;
  const int angry = 0, disgust = 1, fear = 2, happy = 3, sad = 4, surprise = 5;
  const auto share = [](int label, auto&& holds) {
    detail::Rng rng(99);
    int yes = 0;
    for (int i = 0; i < 1000; ++i) yes += holds(detail::sample_face(label, rng).expr) ? 1 : 0;
    return yes / 1000.0;
  };
  CHECK(share(happy, [](const Expression& e) { return e.mouth_curve > 0.5; }) > 0.95);
  CHECK(share(sad, [](const Expression& e) { return e.mouth_curve < 0; }) > 0.95);
  CHECK(share(sad, [](const Expression& e) { return e.brow_inner > e.brow_outer; }) > 0.95);
  CHECK(share(surprise, [](const Expression& e) { return e.mouth_open > 2 && e.eye_open > 2; }) > 0.9);
  CHECK(share(angry, [](const Expression& e) { return e.brow_inner < e.brow_outer; }) > 0.95);
  CHECK(share(disgust, [](const Expression& e) { return e.mouth_sneer > 0.5; }) > 0.95);
  CHECK(share(fear, [](const Expression& e) { return e.eye_open > 2 && e.brow_inner > 5; }) > 0.8);
}

TEST_CASE("synthetic: class mean images differ around the mouth") {
  // Mean face per class over many samples: the nuisances average out (to within about 60 in
  // this distance, between two seeds), the expressions do not.
  SyntheticOptions o;
  o.training = 3000;
  o.public_test = 0;
  const Fer2013 d = make_synthetic(o);
  std::vector<std::vector<double>> mean(num_classes, std::vector<double>(image_pixels, 0.0));
  const auto counts = d.class_counts();
  for (std::size_t i = 0; i < d.size(); ++i)
    for (int p = 0; p < image_pixels; ++p)
      mean[d.labels[i]][static_cast<std::size_t>(p)] += d.image(i)[p] / static_cast<double>(counts[d.labels[i]]);
  const auto mouth_distance = [&](std::size_t a, std::size_t b) {  // rows 30..40, central columns
    double s = 0;
    for (int y = 30; y < 41; ++y)
      for (int x = 14; x < 34; ++x) {
        const auto p = static_cast<std::size_t>(y * image_side + x);
        s += (mean[a][p] - mean[b][p]) * (mean[a][p] - mean[b][p]);
      }
    return std::sqrt(s);
  };
  const std::size_t happy = 3, surprise = 5, neutral = 6;
  CHECK(mouth_distance(happy, neutral) > 120);
  CHECK(mouth_distance(surprise, neutral) > 200);
}
