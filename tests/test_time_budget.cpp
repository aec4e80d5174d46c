// Training to a wall-clock budget (train/time_budget.hpp): the epoch count the first epoch's
// time gives, the run length the flags give, the schedule set to the fitted length, and a
// budgeted run that keeps its fitted count through a resume, bit-identical to a fixed-count run.
// No test depends on how fast this machine is: the budgets are far below or far above any
// epoch's time, so the clamps decide.
#include <doctest/doctest.h>

#include <atomic>
#include <filesystem>
#include <limits>
#include <memory>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/train/options_text.hpp>
#include <fernet/train/run.hpp>
#include <fernet/train/time_budget.hpp>
#include <fernet/train/trainer.hpp>

#include "training_fixtures.hpp"

using namespace fernet;

namespace {
using BudgetNet = Sequential<Input<1, 48, 48>, Conv<1, 4, 3>, BatchNorm2d<4>, ReLU, Pool<4>, Flatten, Linear<484, 7>>;

std::string scratch(const std::string& name) { return test::scratch("fernet_budget", name).string(); }

struct Outcome {
  std::vector<float> state;  // parameters, buffers and the last learning rate
  int epochs = 0, completed = 0;
  std::vector<EpochRecord> history;
};

// A cosine:1 run of BudgetNet with `cap` epochs (and the budget when > 0), optionally resumed
// from a checkpoint, optionally stopped after `stop_after` epochs; its schedule is made for
// `schedule_epochs` (the cap when 0), as a budgeted run's is before its length is known.
Outcome train(int cap, double budget_seconds, const std::string& resume_from = "", const std::string& save_to = "",
              int stop_after = 0, int schedule_epochs = 0) {
  static const auto ds = test::synthetic(96, 32, 21);
  static const auto training = ds.split(data::Split::Training), evaluation = ds.split(data::Split::PublicTest);
  const auto pre = data::preprocess::centered;
  auto net = std::make_unique<BudgetNet>(5);
  SGD opt(*net, {.lr = 0.05f, .momentum = 0.9f, .nesterov = true});
  data::BatchLoader tl(training, 32, pre, true, 5);
  tl.set_pipeline(options_text::parse_augment("flip,erasing=0.3", pre));
  data::BatchLoader el(evaluation, 32, pre, false, 5);
  std::atomic<bool> stop{false};
  TrainConfig cfg;
  cfg.model_name = "budget-net";
  cfg.epochs = cap;
  cfg.seed = 5;
  cfg.progress = false;
  cfg.time_budget_seconds = budget_seconds;
  cfg.last_checkpoint = save_to;
  cfg.stop = &stop;
  cfg.on_epoch = [&](const EpochRecord& r) {
    if (r.epoch == stop_after) stop = true;
  };
  cfg.schedule = options_text::parse_schedule("cosine:1", 0.05, schedule_epochs ? schedule_epochs : cap,
                                               tl.batches());
  Trainer<CrossEntropyLoss, BudgetNet, SGD> t(*net, opt, cfg);
  if (!resume_from.empty()) t.resume(resume_from);
  t.fit(tl, &el);
  Outcome o;
  o.state.assign(net->parameters().begin(), net->parameters().end());
  o.state.insert(o.state.end(), net->buffers().begin(), net->buffers().end());
  o.state.push_back(opt.options().lr);
  o.epochs = t.epochs();
  o.completed = t.completed_epochs();
  o.history = t.history();
  return o;
}
}  // namespace

TEST_CASE("time budget: the epochs that fit at the first epoch's pace, within the bounds") {
  // 97% of 60 minutes at 59 s an epoch: floor(59.19).
  CHECK(epochs_for_budget(3600, 59.0, 2, 300) == 59);
  CHECK(epochs_for_budget(3600, 97.0, 1, 300) == 36);  // 3492 / 97 = 36 exactly
  CHECK(epochs_for_budget(60, 100.0, 2, 300) == 2);    // the first epoch alone overran: the shortest run
  CHECK(epochs_for_budget(3600, 1.0, 1, 20) == 20);    // the cap
  CHECK(epochs_for_budget(10, 0.0, 1, 7) == 7);        // a first epoch timed at zero
  CHECK_THROWS_AS(epochs_for_budget(0, 1.0, 1, 7), std::invalid_argument);
  CHECK_THROWS_AS(epochs_for_budget(std::numeric_limits<double>::infinity(), 1.0, 1, 7), std::invalid_argument);
  CHECK_THROWS_AS(epochs_for_budget(10, 1.0, 3, 2), std::invalid_argument);
}

TEST_CASE("time budget: the run length from a recipe and the flags given") {
  auto same = [](RunLength l, int epochs, double minutes) {
    CHECK(l.epochs == epochs);
    CHECK(l.time_budget_minutes == minutes);
  };
  same(run_length(recipes::vgg_fast, std::nullopt, std::nullopt), time_budget::default_max_epochs, 60);
  same(run_length(recipes::vgg_best, std::nullopt, std::nullopt), time_budget::default_max_epochs, 150);
  same(run_length(recipes::vgg_fast, 5, std::nullopt), 5, 0);          // --epochs alone: exactly that many
  same(run_length(recipes::vgg_fast, std::nullopt, 0.0), recipes::vgg_fast.epochs, 0);  // budget off
  same(run_length(recipes::vgg_fast, 10, 30.0), 10, 30);               // both: at most 10
  same(run_length(recipes::cnn_adam, std::nullopt, std::nullopt), 15, 0);  // the notebook's: no budget
  same(run_length(recipes::cnn_adam, std::nullopt, 5.0), time_budget::default_max_epochs, 5);
  CHECK_THROWS_WITH_AS(run_length(recipes::vgg_fast, std::nullopt, -1.0), doctest::Contains("--time-budget"),
                       std::invalid_argument);
}

TEST_CASE("time budget: a schedule set to a run length equals one made for that length") {
  const long batches = 7;
  for (const char* text : {"cosine:2", "cosine", "onecycle", "step:3:0.5", "plateau:2"}) {
    CAPTURE(text);
    auto fitted = options_text::parse_schedule(text, 0.1, 300, batches);
    const auto made = options_text::parse_schedule(text, 0.1, 12, batches);
    fitted->set_run_length(12, batches);
    CHECK(fitted->to_string() == made->to_string());
    for (long e = 0; e < 12; ++e)
      for (long b = 0; b < batches; ++b) CHECK(fitted->lr(e, e * batches + b) == made->lr(e, e * batches + b));
  }
  auto cosine = options_text::parse_schedule("cosine:2", 0.1, 300, batches);
  CHECK(cosine->min_run_epochs() == 3);
  CHECK_THROWS_WITH(cosine->set_run_length(2, batches), doctest::Contains("too short"));
}

TEST_CASE("time budget: a budget far below an epoch trains the shortest run; far above, the cap, as a fixed run") {
  SUBCASE("too short for any epoch: the schedule's shortest run (cosine:1's warm-up, then one epoch)") {
    const Outcome o = train(6, 1e-6);
    CHECK(o.epochs == 2);
    CHECK(o.completed == 2);
  }
  SUBCASE("room for all: the cap, bit-identical to a run told that many epochs") {
    // The budgeted run's schedule starts out made for 300 epochs; fitted to 3 after the first,
    // it must anneal as a 3-epoch run's does (left at 300, the learning rates would differ).
    const Outcome budgeted = train(3, 1e9, "", "", 0, 300);
    const Outcome fixed = train(3, 0);
    CHECK(budgeted.epochs == 3);
    CHECK(budgeted.state == fixed.state);
    CHECK(train(3, 0, "", "", 0, 300).state != fixed.state);  // which the unfitted schedule does
  }
}

TEST_CASE("time budget: the fitted count is kept in the checkpoint; a resumed run trains to it, bit-identical") {
  const auto ck = scratch("budget.fernet");
  const Outcome straight = train(3, 1e9);
  const Outcome first = train(3, 1e9, "", ck, 1, 300);  // stopped after epoch 1, its count fixed at 3
  CHECK(first.completed == 1);
  CHECK(Checkpoint::load(ck).get("budget_epochs") == "3");
  // Resumed with a larger cap: the count fixed after epoch 1 holds, not the new cap.
  const Outcome resumed = train(50, 1e9, ck);
  CHECK(resumed.epochs == 3);
  CHECK(resumed.completed == 3);
  CHECK(resumed.state == straight.state);
  REQUIRE(resumed.history.size() == 3);
  CHECK(resumed.history.back().test_loss == straight.history.back().test_loss);
  // A run without a budget resumes it to its own count (as --epochs on resume does).
  CHECK(train(2, 0, ck).completed == 2);
  // A budgeted run refuses a checkpoint trained without a budget (its count would be unknown).
  const auto plain = scratch("plain.fernet");
  train(2, 0, "", plain, 1);
  CHECK_THROWS_WITH_AS(train(3, 1e9, plain), doctest::Contains("trained without one"), CheckpointError);
}

TEST_CASE("time budget: a per-batch schedule (onecycle) is refused, since epoch 1 depends on the run's length") {
  auto net = std::make_unique<BudgetNet>(1);
  SGD opt(*net, {.lr = 0.05f});
  TrainConfig cfg;
  cfg.epochs = 10;
  cfg.time_budget_seconds = 60;
  cfg.schedule = options_text::parse_schedule("onecycle", 0.05, 10, 4);
  CHECK_THROWS_WITH_AS((Trainer<CrossEntropyLoss, BudgetNet, SGD>(*net, opt, cfg)),
                       doctest::Contains("the schedule 'onecycle' steps every batch"), std::invalid_argument);
  cfg.time_budget_seconds = 0;  // without a budget the same schedule is fine
  CHECK_NOTHROW((Trainer<CrossEntropyLoss, BudgetNet, SGD>(*net, opt, cfg)));
  cfg.schedule = options_text::parse_schedule("cosine:1", 0.05, 10, 4);
  for (const double bad : {-1.0, std::numeric_limits<double>::quiet_NaN(), std::numeric_limits<double>::infinity()}) {
    cfg.time_budget_seconds = bad;
    CHECK_THROWS_WITH_AS((Trainer<CrossEntropyLoss, BudgetNet, SGD>(*net, opt, cfg)),
                         doctest::Contains("the time budget must be a number of seconds >= 0"), std::invalid_argument);
  }
  // The rules themselves, as the `fernet` program and the Trainer share them.
  CHECK(time_budget_problem(0, "minutes").empty());
  CHECK(time_budget_problem(2.5, "minutes").empty());
  CHECK(time_budget_problem(-0.5, "minutes") == "the time budget must be a number of minutes >= 0 (0: none), got -0.5");
  const LrSchedule onecycle = *options_text::parse_schedule("onecycle", 0.05, 10, 4);
  CHECK(time_budget_schedule_problem(false, onecycle).empty());
  CHECK_FALSE(time_budget_schedule_problem(true, onecycle).empty());
  CHECK(time_budget_schedule_problem(true, *options_text::parse_schedule("cosine:1", 0.05, 10, 4)).empty());
}
