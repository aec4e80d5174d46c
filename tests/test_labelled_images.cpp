// Training on a program's own in-memory images: the generic LabelledImages view, BatchLoader on
// any image shape, the Trainer and train_from_recipe, with nothing from FER2013 and no zlib.
#include <doctest/doctest.h>

#include <unistd.h>

#include <cmath>
#include <filesystem>
#include <numeric>
#include <string>
#include <vector>

#include <fernet/data/batches.hpp>
#include <fernet/data/labelled_images.hpp>
#include <fernet/fernet.hpp>
#include <fernet/probabilities.hpp>
#include <fernet/train/run.hpp>
#include <fernet/train/trainer.hpp>

#ifdef ZLIB_VERSION
#error "the training headers must not include zlib (it belongs to fernet/data/fer2013_file.hpp only)"
#endif

using namespace fernet;

namespace {

// 8 x 10 grey images in three classes: a bright left third, middle third or right third, on
// noise. A small convolutional network learns it in a few epochs.
constexpr int rows = 8, cols = 10;
using StripeNet = Sequential<Input<1, rows, cols>, Conv<1, 4, 3>, ReLU, Pool<2>, Flatten, Linear<4 * 3 * 4, 3>>;
using StripeNetLogp =
    Sequential<Input<1, rows, cols>, Conv<1, 4, 3>, ReLU, Pool<2>, Flatten, Linear<4 * 3 * 4, 3>, LogSoftmax>;

data::LabelledImageSet stripes(std::size_t n, std::uint64_t seed) {
  data::LabelledImageSet set({1, rows, cols});
  Rng rng(seed);
  std::vector<std::uint8_t> img(set.shape.pixels());
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.below(3));
    for (int y = 0; y < rows; ++y)
      for (int x = 0; x < cols; ++x) {
        const bool lit = x * 3 / cols == label;
        img[y * cols + x] = static_cast<std::uint8_t>((lit ? 150 : 30) + rng.below(100));
      }
    set.append(img.data(), label);
  }
  return set;
}

std::string scratch(const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / ("fernet_images_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return (dir / name).string();
}

}  // namespace

TEST_CASE("labelled images: the view checks its sizes and labels") {
  const std::vector<std::uint8_t> pixels(2 * 3 * 4 * 5, 7);
  const std::vector<int> labels = {0, 4};
  const data::LabelledImages v({3, 4, 5}, pixels, labels);
  CHECK(v.size() == 2);
  CHECK(v.shape().pixels() == 60);
  CHECK(v.image(1) == pixels.data() + 60);
  CHECK(v.label(1) == 4);
  CHECK_THROWS_WITH_AS(data::LabelledImages({3, 4, 5}, std::span(pixels).first(100), labels),
                       "LabelledImages: 2 labels need 120 pixels of shape 3x4x5, got 100", std::invalid_argument);
  const std::vector<int> negative = {0, -1};
  CHECK_THROWS_WITH_AS(data::LabelledImages({3, 4, 5}, pixels, negative),
                       "LabelledImages: label -1 of image 1 is negative", std::invalid_argument);
  CHECK_THROWS_AS(data::LabelledImages({0, 4, 5}, {}, {}), std::invalid_argument);
  data::LabelledImageSet set({1, 2, 2});
  const std::uint8_t four[4] = {1, 2, 3, 4};
  set.append(four, 2);
  CHECK_THROWS_AS(set.append(four, -3), std::invalid_argument);
  const data::LabelledImages view = set;
  CHECK(view.size() == 1);
  CHECK(view.image(0)[3] == 4);
}

TEST_CASE("labelled images: batches of any shape; grey replicated, colour kept, mismatches refused") {
  const auto grey = stripes(25, 1);
  data::BatchLoader g(grey, 10, {0.5f, 1.f, 3}, false, 0);
  CHECK(g.sample_floats() == 3 * rows * cols);
  CHECK(g.batches() == 3);
  const auto b = g.batch(2);
  REQUIRE(b.size == 5);
  for (int c = 0; c < 3; ++c)
    for (int p = 0; p < rows * cols; ++p)
      CHECK(b.images[(4 * 3 + c) * rows * cols + p] == grey.image(24)[p] * 0.5f + 1.f);
  CHECK(b.labels[4] == grey.labels[24]);

  data::LabelledImageSet colour({3, 2, 3});
  std::vector<std::uint8_t> img(18);
  std::iota(img.begin(), img.end(), std::uint8_t{0});
  colour.append(img.data(), 1);
  data::BatchLoader c(colour, 4, {1.f, 0.f, 3}, true, 9);
  c.start_epoch(1);
  const auto cb = c.batch(0);
  for (int p = 0; p < 18; ++p) CHECK(cb.images[p] == static_cast<float>(p));
  CHECK_THROWS_WITH_AS(data::BatchLoader(colour, 4, {1.f, 0.f, 1}, false, 0),
                       "BatchLoader: the images have 3 channels but the preprocessing gives 1 (grey images are "
                       "replicated to any count; others must match)",
                       std::invalid_argument);
}

TEST_CASE("labelled images: a network trains on in-memory images through BatchLoader and Trainer") {
  const auto train = stripes(600, 2), test = stripes(200, 3);
  StripeNet net(5);
  Adam opt(net, {.lr = 1e-2f});
  data::BatchLoader tl(train, 20, data::preprocess::unit, true, 5);
  data::BatchLoader el(test, 100, data::preprocess::unit, false, 5);
  TrainConfig cfg;
  cfg.epochs = 4;
  cfg.progress = false;
  Trainer<CrossEntropyLoss, StripeNet, Adam> trainer(net, opt, cfg);
  REQUIRE(trainer.fit(tl, &el));
  const auto& h = trainer.history();
  REQUIRE(h.size() == 4);
  CHECK(h.back().train_loss < h.front().train_loss);
  CHECK(h.back().test_accuracy > 0.9);  // chance is 1/3
}

TEST_CASE("labelled images: train_from_recipe on in-memory images; resume continues; best is re-evaluated") {
  const auto train = stripes(400, 4), test = stripes(150, 5);
  const Recipe recipe{"stripes", "StripeNet", "", 3, 25, 1e-2, 11, data::preprocess::unit, "unit"};
  auto run = run_from_recipe<Adam>(recipe);
  CHECK(run.optimizer.lr == doctest::Approx(1e-2));
  run.config.progress = false;
  const RunData d{train, test, "three stripes", "test"};
  const RunResult straight = train_from_recipe<StripeNet, CrossEntropyLoss>(run, d);
  REQUIRE(straight.completed);
  REQUIRE(straight.history.size() == 3);
  REQUIRE(straight.last);
  CHECK(straight.last->accuracy() > 0.8);
  CHECK_FALSE(straight.best);  // no best checkpoint was asked for

  auto first = run;
  first.config.epochs = 2;
  first.config.last_checkpoint = scratch("last.fernet");
  first.config.best_checkpoint = scratch("best.fernet");
  const RunResult two = train_from_recipe<StripeNet, CrossEntropyLoss>(first, d);
  REQUIRE(two.best);
  CHECK(two.best->accuracy() == doctest::Approx(two.best_accuracy));
  auto rest = first;
  rest.config.epochs = 3;
  rest.resume = true;
  const RunResult resumed = train_from_recipe<StripeNet, CrossEntropyLoss>(rest, d);
  CHECK(resumed.resumed_from == 2);
  REQUIRE(resumed.history.size() == 3);
  CHECK(resumed.history[2].train_loss == straight.history[2].train_loss);
  CHECK(resumed.history[2].test_accuracy == straight.history[2].test_accuracy);

  const auto wrong_shape = stripes(10, 6);
  data::LabelledImages narrow({1, rows, cols - 2}, std::span(wrong_shape.pixels).first(10 * rows * (cols - 2)),
                              wrong_shape.labels);
  const auto train_narrow = [&] { train_from_recipe<StripeNet, CrossEntropyLoss>(run, {narrow, {}, "narrow"}); };
  CHECK_THROWS_WITH_AS(train_narrow(),
                       "network 'stripes' takes 1x8x10 = 80 values per image, but 1x8x8 images preprocessed to 1 "
                       "channels give 64",
                       std::invalid_argument);
  const auto train_nothing = [&] { train_from_recipe<StripeNet, CrossEntropyLoss>(run, {{}, test, "an empty set"}); };
  CHECK_THROWS_WITH_AS(train_nothing(), "train_from_recipe: no training images in an empty set", std::invalid_argument);
  std::filesystem::remove_all(std::filesystem::path(first.config.last_checkpoint).parent_path());
}

TEST_CASE("probabilities: from logits by softmax, from log-probabilities by exp; the same either way") {
  static_assert(!outputs_log_probabilities_v<StripeNet>);
  static_assert(outputs_log_probabilities_v<StripeNetLogp>);
  const auto images = stripes(5, 7);
  data::BatchLoader loader(images, 5, data::preprocess::unit, false, 0);
  const auto b = loader.batch(0);
  StripeNet logits_net(3);
  StripeNetLogp logp_net(3);  // LogSoftmax has no parameters: the same weights
  logits_net.eval();
  logp_net.eval();
  std::vector<float> p1(15), p2(15);
  probabilities<StripeNet>(logits_net.forward(b.images, 5), 5, p1.data());
  probabilities<StripeNetLogp>(logp_net.forward(b.images, 5), 5, p2.data());
  for (int i = 0; i < 5; ++i) {
    CHECK(p1[i * 3] + p1[i * 3 + 1] + p1[i * 3 + 2] == doctest::Approx(1.0).epsilon(1e-6));
    for (int k = 0; k < 3; ++k) CHECK(p1[i * 3 + k] == doctest::Approx(p2[i * 3 + k]).epsilon(1e-5));
  }
  const float logits[3] = {1000.f, 0.f, 1000.f};  // no overflow
  float p[3];
  softmax_rows(logits, 1, 3, p);
  CHECK(p[0] == doctest::Approx(0.5));
  CHECK(p[1] == 0.f);
}
