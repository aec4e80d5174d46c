// Mixup, weight averaging (EMA) and histogram equalisation as wired into training (Trainer,
// BatchLoader): a resumed run with both ends bit-identical to an uninterrupted one; the saved
// weights are the averages, evaluated as such; a soft-target step with one-hot targets is the
// plain step; mixup changes the step; equalisation is equalize_histogram then the scaling; the
// device path refuses what it cannot do.
#include <doctest/doctest.h>

#include <algorithm>
#include <filesystem>
#include <memory>
#include <vector>

#include <unistd.h>

#include <fernet/data/augment/equalize.hpp>
#include <fernet/data/synthetic.hpp>
#include <fernet/device/host_backend.hpp>
#include <fernet/fernet.hpp>
#include <fernet/train/options_text.hpp>
#include <fernet/train/trainer.hpp>

#include "training_fixtures.hpp"

using namespace fernet;
namespace fs = std::filesystem;

namespace {
using SmallNet = Sequential<Input<1, 44, 44>, Conv<1, 8, 3>, BatchNorm2d<8>, ReLU, Pool<4>, Flatten, Dropout<0.2f>,
                            Linear<8 * 10 * 10, 7>>;

fs::path scratch(const std::string& name) { return test::scratch("fernet_mixup_ema", name); }
using test::synthetic;
std::vector<float> state_of(const SmallNet& net) {
  std::vector<float> s(net.parameters().begin(), net.parameters().end());
  s.insert(s.end(), net.buffers().begin(), net.buffers().end());
  return s;
}

struct Outcome {
  std::vector<float> state;  // the training weights and buffers at the end
  std::vector<EpochRecord> history;
  double best = 0;
};
// A run of `epochs` epochs with mixup and EMA (either can be switched off), saving to last/best
// and resuming from `resume_from` when given.
Outcome run(const data::Fer2013& ds, int epochs, float mixup, bool ema, const std::string& resume_from,
            const std::string& last, const std::string& best = "") {
  const auto pre = data::preprocess::centered;
  auto net = std::make_unique<SmallNet>(4);
  SGD opt(*net, {.lr = 0.05f, .momentum = 0.9f, .nesterov = true});
  // The splits own the pixels a loader's view reads: they must outlive it.
  const auto train = ds.split(data::Split::Training), test = ds.split(data::Split::PublicTest);
  data::BatchLoader tl(train, 32, pre, true, 4);
  tl.set_pipeline(options_text::parse_augment("crop=44:2,flip", pre));
  data::BatchLoader el(test, 50, pre, false, 4);
  TrainConfig cfg;
  cfg.model_name = "small";
  cfg.epochs = epochs;
  cfg.seed = 4;
  cfg.progress = false;
  cfg.last_checkpoint = last;
  cfg.best_checkpoint = best;
  cfg.step.label_smoothing = 0.1f;
  cfg.mixup_alpha = mixup;
  if (ema) cfg.ema = WeightAverage::Options{.decay = 0.99f, .warmup = true};
  cfg.tta = options_text::parse_tta("center:44");
  Trainer<CrossEntropyLoss, SmallNet, SGD> t(*net, opt, cfg);
  if (!resume_from.empty()) t.resume(resume_from);
  t.fit(tl, &el);
  return {state_of(*net), t.history(), t.best_accuracy()};
}
}  // namespace

TEST_CASE("mixup + EMA: a resumed run ends bit-identical to an uninterrupted one") {
  const auto ds = synthetic(200, 60, 3);
  const auto ck = scratch("resume.fernet").string();
  const Outcome straight = run(ds, 3, 0.4f, true, "", "");
  run(ds, 1, 0.4f, true, "", ck);
  const Outcome resumed = run(ds, 3, 0.4f, true, ck, "");
  CHECK(straight.state == resumed.state);
  REQUIRE(resumed.history.size() == 3);
  CHECK(straight.history.back().test_loss == resumed.history.back().test_loss);
  CHECK(straight.history.back().train_loss == resumed.history.back().train_loss);
  // A checkpoint with averages is refused by a run without them (and the other way round).
  CHECK_THROWS_WITH_AS(run(ds, 2, 0.f, false, ck, ""), doctest::Contains("weight averaging (EMA)"), CheckpointError);
  const auto plain = scratch("plain.fernet").string();
  run(ds, 1, 0.f, false, "", plain);
  CHECK_THROWS_WITH_AS(run(ds, 2, 0.f, true, plain, ""), doctest::Contains("trained without"), CheckpointError);
}

TEST_CASE("mixup and EMA each change training; their off switches are the plain run") {
  const auto ds = synthetic(120, 40, 6);
  const Outcome plain = run(ds, 1, 0.f, false, "", "");
  const Outcome mixed = run(ds, 1, 0.4f, false, "", "");
  const Outcome averaged = run(ds, 1, 0.f, true, "", "");
  CHECK(plain.state != mixed.state);
  // EMA leaves the training weights alone; only the evaluation (of the averages) differs.
  CHECK(plain.state == averaged.state);
  CHECK(plain.history.back().test_loss != averaged.history.back().test_loss);
}

TEST_CASE("EMA: the saved model holds the averages it was evaluated with; training weights are kept apart") {
  const auto ds = synthetic(120, 40, 7);
  const auto last = scratch("ema_last.fernet").string(), best = scratch("ema_best.fernet").string();
  fs::remove(best);
  const Outcome o = run(ds, 2, 0.f, true, "", last, best);
  const Checkpoint c = Checkpoint::load(last);
  CHECK(c.get("ema_updates") == std::to_string(2 * ((120 + 31) / 32)));
  auto saved = std::make_unique<SmallNet>(0);
  restore_checkpoint(*saved, c, last, "small");
  CHECK(state_of(*saved) != o.state);  // the averages, not the training weights
  std::vector<float> training(SmallNet::parameter_count), buffers(SmallNet::buffer_count);
  c.copy_section("training.parameters", training, last);
  c.copy_section("training.buffers", buffers, last);
  training.insert(training.end(), buffers.begin(), buffers.end());
  CHECK(training == o.state);
  // The saved weights give the accuracy the run recorded for its last epoch.
  const auto test = ds.split(data::Split::PublicTest);
  data::BatchLoader el(test, 50, data::preprocess::centered, false, 4);
  const Evaluation ev = evaluate_tta<CrossEntropyLoss>(*saved, el, *options_text::parse_tta("center:44"));
  CHECK(ev.loss == o.history.back().test_loss);
  REQUIRE(fs::exists(best));
}

TEST_CASE("soft-target step: one-hot targets give the plain step; labels only count") {
  const auto ds = synthetic(40, 0, 8);
  const auto train = ds.split(data::Split::Training);
  data::BatchLoader tl(train, 20, data::preprocess::centered, false, 1);
  tl.set_pipeline(options_text::parse_augment("crop=44", data::preprocess::centered));
  tl.start_epoch(1);
  const auto batch = tl.batch(0);
  auto a = std::make_unique<SmallNet>(2), b = std::make_unique<SmallNet>(2);
  SGD oa(*a, {.lr = 0.1f}), ob(*b, {.lr = 0.1f});
  std::vector<float> targets(static_cast<std::size_t>(batch.size) * 7);
  data::augment::one_hot(batch.labels, batch.size, 7, 0.f, targets.data());
  const StepResult ra = a->train_step<CrossEntropyLoss>(batch.images, batch.labels, batch.size, oa);
  const StepResult rb = b->train_step_soft<CrossEntropyLoss>(batch.images, targets.data(), batch.labels, batch.size, ob);
  CHECK(ra.correct == rb.correct);
  CHECK(rb.loss_sum == doctest::Approx(ra.loss_sum).epsilon(1e-6));
  for (std::size_t i = 0; i < SmallNet::parameter_count; ++i) {
    CAPTURE(i);
    REQUIRE(b->parameters()[i] == doctest::Approx(a->parameters()[i]).epsilon(1e-5));
  }
}

TEST_CASE("EMA and mixup are refused on a device backend, before any step") {
  const auto ds = synthetic(40, 0, 8);
  const auto train = ds.split(data::Split::Training);
  data::BatchLoader tl(train, 20, data::preprocess::centered, false, 1);
  tl.set_pipeline(options_text::parse_augment("crop=44", data::preprocess::centered));
  auto net = std::make_unique<SmallNet>(2);
  const std::vector<float> before = state_of(*net);
  SGD opt(*net, {.lr = 0.1f});
  device::HostBackend be;
  for (int which = 0; which < 2; ++which) {
    TrainConfig cfg;
    cfg.epochs = 1;
    cfg.progress = false;
    cfg.backend = &be;
    if (which == 0) cfg.mixup_alpha = 0.2f;
    else cfg.ema = WeightAverage::Options{};
    Trainer<CrossEntropyLoss, SmallNet, SGD> t(*net, opt, cfg);
    CHECK_THROWS_WITH_AS(t.fit(tl, nullptr), doctest::Contains("runs on the CPU only"), std::invalid_argument);
  }
  CHECK(state_of(*net) == before);
}

TEST_CASE("equalisation in the loader: equalize_histogram, then the scaling, each image alike") {
  const auto ds = synthetic(30, 0, 9);
  const auto images = ds.split(data::Split::Training);
  data::Preprocess pre = data::preprocess::centered;
  pre.equalize = true;
  data::BatchLoader plain(images, 30, data::preprocess::centered, false, 1), eq(images, 30, pre, false, 1);
  plain.start_epoch(0);
  eq.start_epoch(0);
  const auto bp = plain.batch(0), be = eq.batch(0);
  const int pixels = 48 * 48;
  int changed = 0;
  for (int i = 0; i < be.size; ++i) {
    std::vector<std::uint8_t> want(images.image(i), images.image(i) + pixels);
    data::augment::equalize_histogram(want.data(), want.data(), pixels);
    for (int p = 0; p < pixels; ++p) {
      REQUIRE(be.images[i * pixels + p] == doctest::Approx(want[p] * pre.scale + pre.offset).epsilon(1e-6));
      changed += be.images[i * pixels + p] != bp.images[i * pixels + p];
    }
  }
  CHECK(changed > 0);
  // Equalised images use the whole range.
  CHECK(*std::max_element(be.images, be.images + be.size * pixels) == doctest::Approx(255 * pre.scale + pre.offset));
  // Grey replicated to three planes, each equalised alike.
  pre.channels = 3;
  data::BatchLoader rgb(images, 2, pre, false, 1);
  rgb.start_epoch(0);
  const auto br = rgb.batch(0);
  for (int c = 0; c < 3; ++c)
    CHECK(std::equal(br.images + c * pixels, br.images + (c + 1) * pixels, be.images));
}
