// The accuracy options wired into training (train/options_text.hpp, Trainer, train_from_recipe):
// resuming with a schedule, augmentation, label smoothing and clipping ends bit-identical to an
// uninterrupted run; a short run on synthetic faces with augmentation and ten-crop evaluation
// learns (not an accuracy claim); label smoothing is the same rule on the CPU and the device.
#include <doctest/doctest.h>

#include <filesystem>
#include <memory>
#include <vector>

#include <fernet/data/synthetic.hpp>
#include <fernet/device/host_backend.hpp>
#include <fernet/fernet.hpp>
#include <fernet/losses/label_smoothing.hpp>
#include <fernet/train/options_text.hpp>
#include <fernet/train/run.hpp>
#include <fernet/train/trainer.hpp>

#include "training_fixtures.hpp"

using namespace fernet;
namespace fs = std::filesystem;

namespace {
// A small network for 44x44 crops of the 48x48 faces.
using CropNet = Sequential<Input<1, 44, 44>, Conv<1, 8, 3>, ReLU, Pool<2>, Conv<8, 16, 3>, BatchNorm2d<16>, ReLU,
                           Pool<4>, Flatten, Dropout<0.2f>, Linear<256, 7>>;

fs::path scratch(const std::string& name) { return test::scratch("fernet_recipes", name); }
using test::synthetic;
}  // namespace

TEST_CASE("recipes: resuming with a schedule, augmentation, label smoothing and clipping is bit-identical") {
  const auto ds = synthetic(260, 80, 5);
  const auto train = ds.split(data::Split::Training), test = ds.split(data::Split::PublicTest);
  const auto pre = data::preprocess::centered;
  for (const char* schedule : {"cosine:1", "onecycle", "plateau:0:0.5", "step:1:0.5"}) {
    CAPTURE(schedule);
    auto run = [&](int epochs, const std::string& resume_from, const std::string& save_to) {
      auto net = std::make_unique<CropNet>(9);
      SGD opt(*net, {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = true});
      data::BatchLoader tl(train, 32, pre, true, 9);
      tl.set_pipeline(options_text::parse_augment("crop=44:2,flip,affine=10:0.05:0.1,erasing=0.5,jitter=0.2:0.2", pre));
      data::BatchLoader el(test, 50, pre, false, 9);
      TrainConfig cfg;
      cfg.model_name = "crop-net";
      cfg.epochs = epochs;
      cfg.seed = 9;
      cfg.progress = false;
      cfg.last_checkpoint = save_to;
      cfg.schedule = options_text::parse_schedule(schedule, 0.05, 3, tl.batches());
      cfg.step = {.label_smoothing = 0.1f, .max_grad_norm = 2.f};
      cfg.tta = options_text::parse_tta("ten-crop:44");
      Trainer<CrossEntropyLoss, CropNet, SGD> t(*net, opt, cfg);
      if (!resume_from.empty()) t.resume(resume_from);
      t.fit(tl, &el);
      std::vector<float> state(net->parameters().begin(), net->parameters().end());
      state.insert(state.end(), net->buffers().begin(), net->buffers().end());
      state.push_back(opt.options().lr);
      return std::make_pair(state, t.history());
    };
    const auto ck = scratch("resume.fernet").string();
    const auto [straight, straight_history] = run(3, "", "");
    run(1, "", ck);
    const auto [resumed, resumed_history] = run(3, ck, "");
    CHECK(straight == resumed);
    REQUIRE(resumed_history.size() == 3);
    CHECK(straight_history.back().test_loss == resumed_history.back().test_loss);
    // The schedule moved the learning rate away from its base (the last value is in `state`).
    CHECK(straight.back() != doctest::Approx(0.05f));
  }
}

TEST_CASE("recipes: a checkpoint with a schedule is refused by a run without one") {
  const auto ds = synthetic(64, 0, 3);
  const auto ck = scratch("scheduled.fernet").string();
  auto make = [&](bool scheduled, const std::string& save, const std::string& resume) {
    auto net = std::make_unique<CropNet>(1);
    SGD opt(*net, {.lr = 0.01f});
    data::BatchLoader tl(ds, 32, data::preprocess::centered, true, 1);
    tl.set_pipeline(options_text::parse_augment("crop=44", data::preprocess::centered));
    TrainConfig cfg;
    cfg.model_name = "crop-net";
    cfg.epochs = 1;
    cfg.progress = false;
    cfg.last_checkpoint = save;
    if (scheduled) cfg.schedule = options_text::parse_schedule("cosine", 0.01, 1, tl.batches());
    Trainer<CrossEntropyLoss, CropNet, SGD> t(*net, opt, cfg);
    if (!resume.empty()) t.resume(resume);
    else t.fit(tl, nullptr);
  };
  make(true, ck, "");
  CHECK_THROWS_WITH_AS(make(false, "", ck), doctest::Contains("learning-rate schedule 'cosine"), CheckpointError);
}

TEST_CASE("recipes: augmentation and ten-crop evaluation run end to end and the network learns") {
  const auto ds = synthetic(1200, 300, 11);
  TrainingRun<SGD> run;
  run.config.model_name = "crop-net";
  run.config.epochs = 4;
  run.config.seed = 4;
  run.config.progress = false;
  run.config.best_checkpoint = scratch("best.fernet").string();
  run.config.step.label_smoothing = 0.1f;
  run.batch = 32;
  run.optimizer = {.lr = 0.05f, .momentum = 0.9f, .weight_decay = 5e-4f, .nesterov = true};
  run.preprocess = data::preprocess::centered;
  run.augment = "crop=44:2,flip,affine=8:0.05:0.05,erasing=0.3";
  run.schedule = "cosine:1";
  run.tta = "ten-crop:44";
  const RunResult r = train_from_recipe<CropNet, CrossEntropyLoss>(
      run, {ds.split(data::Split::Training), ds.split(data::Split::PublicTest), "synthetic faces", "PublicTest"});
  REQUIRE(r.history.size() == 4);
  CHECK(r.history.back().train_loss < 0.9 * r.history.front().train_loss);  // smoothing keeps the loss above ~0.5
  CHECK(r.best_accuracy > 0.45);  // chance is about 0.25 (the largest class)
  REQUIRE(r.best);
  CHECK(r.best->accuracy() == doctest::Approx(r.best_accuracy));  // the best model re-evaluated with the same views
  const Checkpoint c = Checkpoint::load(run.config.best_checkpoint);
  CHECK(c.get("tta") == "ten-crop:44");
  CHECK(c.get("augment") == run.augment);
  CHECK(c.get("label_smoothing") == "0.1");
  CHECK(c.get("lr_schedule").rfind("cosine", 0) == 0);
}

TEST_CASE("recipes: a network for crops refuses full-size evaluation images without test-time views") {
  const auto ds = synthetic(64, 32, 2);
  TrainingRun<SGD> run;
  run.config.model_name = "crop-net";
  run.config.epochs = 1;
  run.config.progress = false;
  run.preprocess = data::preprocess::centered;
  run.augment = "crop=44";
  CHECK_THROWS_WITH_AS((train_from_recipe<CropNet, CrossEntropyLoss>(
                           run, {ds.split(data::Split::Training), ds.split(data::Split::PublicTest)})),
                       doctest::Contains("evaluate with test-time views of that size (e.g. tta 'center:44')"),
                       std::invalid_argument);
}

TEST_CASE("recipes: option texts give clear errors") {
  const auto pre = data::preprocess::centered;
  CHECK(options_text::parse_augment("", pre).empty());
  CHECK(options_text::parse_augment("crop=44:4,flip", pre).output_shape({1, 48, 48}) ==
        data::augment::Shape{1, 44, 44});
  CHECK_THROWS_WITH_AS(options_text::parse_augment("crop=44,spin", pre), doctest::Contains("unknown step 'spin'"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(options_text::parse_augment("crop=4x", pre), doctest::Contains("'4x' is not a number"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(options_text::parse_augment("flip=0.5:1", pre), doctest::Contains("at most 1 numbers"),
                       std::invalid_argument);
  CHECK(!options_text::parse_schedule("constant", 0.1, 10, 5));
  CHECK(options_text::parse_schedule("cosine:2", 0.1, 10, 5)->lr(0, 0) == doctest::Approx(0.1 / 3));
  CHECK(options_text::parse_schedule("onecycle", 0.1, 10, 5)->per_batch());
  CHECK_THROWS_WITH_AS(options_text::parse_schedule("cosine:10", 0.1, 10, 5),
                       doctest::Contains("must be shorter than the run"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(options_text::parse_schedule("linear", 0.1, 10, 5), doctest::Contains("unknown schedule"),
                       std::invalid_argument);
  CHECK(options_text::parse_tta("ten-crop:44")->views == tta::Views::ten_crop);
  CHECK(!options_text::parse_tta("none"));
  CHECK_THROWS_WITH_AS(options_text::parse_tta("ten-crop"), doctest::Contains("needs the crop size"),
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(options_text::parse_tta("five:44"), doctest::Contains("unknown views 'five'"),
                       std::invalid_argument);
}

TEST_CASE("recipes: label smoothing is loss_row's rule; 0 is the plain loss bit for bit") {
  const int n = 3, k = 7;
  std::vector<float> z(n * k);
  for (int i = 0; i < n * k; ++i) z[i] = 0.37f * static_cast<float>((i * 7) % 11) - 1.5f;
  const int labels[n] = {0, 4, 6};
  std::vector<float> g_plain(n * k), g_zero(n * k), g_eps(n * k), g_ref(n * k);
  CHECK(CrossEntropyLoss::compute(z.data(), labels, n, k, g_plain.data()) ==
        smoothed_cross_entropy(z.data(), labels, n, k, 0.f, g_zero.data()));
  CHECK(g_plain == g_zero);
  // Smoothed: the soft-target cross-entropy against (1 - eps) one-hot + eps / k.
  std::vector<float> targets(n * k);
  for (int i = 0; i < n; ++i) losses::smoothed_target_row(labels[i], k, 0.1f, targets.data() + i * k);
  const float ref = soft_target_cross_entropy(z.data(), targets.data(), n, k, g_ref.data());
  CHECK(smoothed_cross_entropy(z.data(), labels, n, k, 0.1f, g_eps.data()) == doctest::Approx(ref).epsilon(1e-6));
  for (int i = 0; i < n * k; ++i) CHECK(g_eps[i] == doctest::Approx(g_ref[i]).epsilon(1e-5));
}

TEST_CASE("recipes: label smoothing trains alike on the device; clipping there is refused") {
  const auto ds = synthetic(40, 0, 8);
  data::BatchLoader tl(ds, 20, data::preprocess::centered, false, 1);
  tl.set_pipeline(options_text::parse_augment("crop=44", data::preprocess::centered));
  tl.start_epoch(1);
  const auto batch = tl.batch(0);
  const StepOptions smooth{.label_smoothing = 0.1f};
  auto cpu = std::make_unique<CropNet>(3);
  auto on_device = std::make_unique<CropNet>(3);
  SGD cpu_opt(*cpu, {.lr = 0.1f}), dev_host_opt(*on_device, {.lr = 0.1f});
  device::HostBackend be;
  device::DeviceModel<CropNet> dev(be, *on_device);
  device::DeviceOptimizer<SGD> dev_opt(dev, dev_host_opt);
  cpu->train();
  dev.train();
  const StepResult a = cpu->train_step<CrossEntropyLoss>(batch.images, batch.labels, batch.size, cpu_opt, smooth);
  const StepResult b = dev.train_step<CrossEntropyLoss>(batch.images, batch.labels, batch.size, dev_opt, smooth);
  CHECK(b.loss_sum == doctest::Approx(a.loss_sum).epsilon(1e-4));
  dev.download(*on_device);
  for (std::size_t i = 0; i < CropNet::parameter_count; ++i)
    CHECK(on_device->parameters()[i] == doctest::Approx(cpu->parameters()[i]).epsilon(1e-4));
  CHECK_THROWS_WITH_AS(
      dev.train_step<CrossEntropyLoss>(batch.images, batch.labels, batch.size, dev_opt, {.max_grad_norm = 1.f}),
      doctest::Contains("gradient clipping (max_grad_norm 1.0"), std::invalid_argument);
}
