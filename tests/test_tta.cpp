// Test-time augmentation (fernet/train/tta.hpp): the centre and ten-crop views against explicit
// crops, ten-crop evaluation equal to the mean of ten explicit crops' outputs, the log-probability
// path, and its cost in forward calls.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <vector>

#include <fernet/data/augment/crop.hpp>
#include <fernet/data/augment/flip.hpp>
#include <fernet/loss.hpp>
#include <fernet/train/tta.hpp>

using namespace fernet;
namespace aug = fernet::data::augment;

namespace {

constexpr aug::Shape full{2, 12, 10};
constexpr int ch = 8, cw = 7, classes = 3;
constexpr aug::Shape crop{2, ch, cw};

std::vector<float> random_values(std::size_t count, std::uint64_t seed, float lo = -1.f, float hi = 1.f) {
  Rng rng(seed);
  std::vector<float> v(count);
  for (auto& x : v) x = rng.uniform(lo, hi);
  return v;
}

// A loader-like source over fixed images (batches of up to `batch`).
struct Source {
  std::vector<float> images;
  std::vector<int> labels;
  int batch_size = 4;
  int started = -1;
  struct Batch {
    const float* images;
    const int* labels;
    int size;
  };
  int batches() const { return static_cast<int>((labels.size() + batch_size - 1) / batch_size); }
  void start_epoch(int e) { started = e; }
  Batch batch(int b) const {
    const int n = std::min<int>(batch_size, static_cast<int>(labels.size()) - b * batch_size);
    return {images.data() + b * batch_size * full.size(), labels.data() + b * batch_size, n};
  }
};

// A linear "network" on crops: classes x crop.size() weights; optionally log-softmax outputs.
struct Linear {
  std::vector<float> w = random_values(classes * crop.size(), 99, -0.2f, 0.2f);
  bool log_softmax = false;
  std::vector<float> out;
  long calls = 0;
  const float* operator()(const float* x, int m) {
    ++calls;
    out.assign(static_cast<std::size_t>(m) * classes, 0.f);
    for (int i = 0; i < m; ++i) {
      for (int c = 0; c < classes; ++c) {
        double s = 0;
        for (std::size_t p = 0; p < crop.size(); ++p) s += double(w[c * crop.size() + p]) * x[i * crop.size() + p];
        out[i * classes + c] = static_cast<float>(s);
      }
      if (log_softmax) kernels::log_softmax_row(&out[i * classes], &out[i * classes], classes);
    }
    return out.data();
  }
};

Source make_source(int samples) {
  Source s;
  s.images = random_values(samples * full.size(), 5);
  for (int i = 0; i < samples; ++i) s.labels.push_back(i % classes);
  return s;
}

}  // namespace

TEST_CASE("tta: the centre and ten views are the explicit crops, mirrors included, sample-major") {
  const int n = 3;
  const auto images = random_values(n * full.size(), 1);
  std::vector<float> centre(n * crop.size()), ten(10 * n * crop.size()), want(crop.size()), mirrored(full.size());
  tta::center_crops(images.data(), n, full, ch, cw, centre.data());
  tta::ten_crops(images.data(), n, full, ch, cw, ten.data());
  const int tops[5] = {0, 0, 4, 4, 2}, lefts[5] = {0, 3, 0, 3, 2};  // centre margins 2 and 1.5 -> 2
  for (int i = 0; i < n; ++i) {
    const aug::ConstImageView img{images.data() + i * full.size(), full};
    aug::crop_at(img, {want.data(), crop}, 2, 2);
    CHECK(std::memcmp(want.data(), centre.data() + i * crop.size(), crop.size() * sizeof(float)) == 0);
    aug::flip_horizontal(img, {mirrored.data(), full});
    for (int v = 0; v < 10; ++v) {
      INFO("sample " << i << " view " << v);
      aug::crop_at(v < 5 ? img : aug::ConstImageView{mirrored.data(), full}, {want.data(), crop}, tops[v % 5],
                   lefts[v % 5]);
      CHECK(std::memcmp(want.data(), ten.data() + (i * 10 + v) * crop.size(), crop.size() * sizeof(float)) == 0);
    }
  }
  // The mirrored top-left view is the mirror of the top-right crop.
  std::vector<float> tr(crop.size()), flipped(crop.size());
  aug::crop_at({images.data(), full}, {tr.data(), crop}, 0, 3);
  aug::flip_horizontal({tr.data(), crop}, {flipped.data(), crop});
  CHECK(std::memcmp(flipped.data(), ten.data() + 5 * crop.size(), crop.size() * sizeof(float)) == 0);
  CHECK_THROWS_WITH_AS(tta::center_crops(images.data(), n, full, 13, 7, centre.data()),
                       "fernet::tta::center_crops: crop 13x7 does not fit the images (2x12x10)", std::invalid_argument);
}

TEST_CASE("tta: ten-crop evaluation equals the mean of ten explicit crops, in one forward call per batch") {
  Source source = make_source(10);  // batches of 4, 4, 2
  Linear net;
  const auto ev = tta::evaluate<CrossEntropyLoss>(classes, full, source, net, {.crop_height = ch, .crop_width = cw});
  CHECK(source.started == 0);
  CHECK(ev.forward_calls == 3);
  CHECK(ev.views_forwarded == 100);
  // By hand: each sample, each view alone through the network, logits averaged.
  std::vector<float> views(10 * crop.size()), mean(classes);
  Linear alone;
  double loss = 0;
  long correct = 0;
  for (int i = 0; i < 10; ++i) {
    tta::ten_crops(source.images.data() + i * full.size(), 1, full, ch, cw, views.data());
    std::fill(mean.begin(), mean.end(), 0.f);
    for (int v = 0; v < 10; ++v) {
      const float* y = alone(views.data() + v * crop.size(), 1);
      for (int c = 0; c < classes; ++c) mean[c] += y[c] / 10.f;
    }
    loss += CrossEntropyLoss::compute(mean.data(), &source.labels[i], 1, classes);
    correct += argmax_row(mean.data(), classes) == source.labels[i];
  }
  CHECK(ev.loss == doctest::Approx(loss / 10).epsilon(1e-5));
  CHECK(ev.confusion.correct() == correct);
  CHECK(ev.confusion.total() == 10);

  // Split forward calls (at most 8 views each) change the cost, not the result.
  Linear split;
  const auto ev8 = tta::evaluate<CrossEntropyLoss>(classes, full, source, split,
                                                   {.crop_height = ch, .crop_width = cw, .max_forward_batch = 8});
  CHECK(ev8.forward_calls == 5 + 5 + 3);
  CHECK(ev8.loss == ev.loss);
  // The centre view alone: one call per batch, one view per sample.
  Linear centre;
  const auto evc = tta::evaluate<CrossEntropyLoss>(classes, full, source, centre,
                                                   {.crop_height = ch, .crop_width = cw, .views = tta::Views::center});
  CHECK(evc.forward_calls == 3);
  CHECK(evc.views_forwarded == 10);
  CHECK(evc.loss != doctest::Approx(ev.loss));
  // Centre and mirror: two views per sample, the mean of the two explicit outputs.
  Linear two;
  const auto evm = tta::evaluate<CrossEntropyLoss>(
      classes, full, source, two, {.crop_height = ch, .crop_width = cw, .views = tta::Views::mirrored});
  CHECK(evm.forward_calls == 3);
  CHECK(evm.views_forwarded == 20);
  double mirrored_loss = 0;
  std::vector<float> c(crop.size()), m(crop.size());
  for (int i = 0; i < 10; ++i) {
    tta::center_crops(source.images.data() + i * full.size(), 1, full, ch, cw, c.data());
    aug::flip_horizontal({c.data(), crop}, {m.data(), crop});
    const float* yc = alone(c.data(), 1);
    std::vector<float> avg(yc, yc + classes);
    const float* y = alone(m.data(), 1);
    for (int k = 0; k < classes; ++k) avg[k] = (avg[k] + y[k]) / 2;
    mirrored_loss += CrossEntropyLoss::compute(avg.data(), &source.labels[i], 1, classes);
  }
  CHECK(evm.loss == doctest::Approx(mirrored_loss / 10).epsilon(1e-5));
}

TEST_CASE("tta: for log-probability outputs the averaged log-probabilities are renormalised before the NLL") {
  Source source = make_source(6);
  Linear net;
  net.log_softmax = true;
  const auto ev = tta::evaluate<NLLLoss>(classes, full, source, net, {.crop_height = ch, .crop_width = cw});
  std::vector<float> views(10 * crop.size()), mean(classes);
  Linear alone;
  alone.log_softmax = true;
  double loss = 0;
  for (int i = 0; i < 6; ++i) {
    tta::ten_crops(source.images.data() + i * full.size(), 1, full, ch, cw, views.data());
    std::vector<double> sum(classes, 0.0);
    for (int v = 0; v < 10; ++v) {
      const float* y = alone(views.data() + v * crop.size(), 1);
      for (int c = 0; c < classes; ++c) sum[c] += y[c] / 10.0;
    }
    double z = 0;
    for (int c = 0; c < classes; ++c) z += std::exp(sum[c]);
    loss += -(sum[source.labels[i]] - std::log(z));
  }
  CHECK(ev.loss == doctest::Approx(loss / 6).epsilon(1e-5));
}
