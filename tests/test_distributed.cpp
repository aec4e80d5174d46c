// The Trainer's data-parallel hooks (train/distributed.hpp) with a single process standing in for
// the transport: the reducer is called for every step and the run equals the plain one. Built
// into fernet_asan_tests too, where it caught the step's reducer reading a pointer whose scope had
// ended (stack-use-after-scope; found by the whole suite under ASan, in cli.mpi).
#include <doctest/doctest.h>

#include <memory>
#include <span>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/train/options_text.hpp>
#include <fernet/train/trainer.hpp>

#include "training_fixtures.hpp"

using namespace fernet;

namespace {
// One process: every collective is the identity; counts what the Trainer asked for.
struct SoloProcess : Distributed {
  int rank() const override { return 0; }
  int ranks() const override { return 1; }
  void reduce_gradients(std::span<float>, int share, int whole) override {
    ++reductions;
    CHECK(share == whole);  // one process holds the whole batch
  }
  void sum(std::span<double>) override {}
  void broadcast(std::span<float>) override {}
  void broadcast(std::span<double>) override {}
  bool any(bool flag) override { return flag; }
  void check_same(const std::string&, std::uint64_t) override {}
  int reductions = 0;
};

using SmallNet = Sequential<Input<1, 48, 48>, Conv<1, 4, 5, 4>, ReLU, Flatten, Linear<484, 7>, LogSoftmax>;

// SmallNet trained on 100 synthetic faces in batches of 25 with `cfg` (progress off): its
// parameters and the epochs it ran.
struct Trained {
  std::vector<float> parameters;
  std::size_t epochs;
};
Trained train_small(TrainConfig cfg) {
  const auto ds = test::synthetic(100, 20, 8);
  const auto train = ds.split(data::Split::Training);
  auto net = std::make_unique<SmallNet>(2);
  SGD opt(*net, {.lr = 0.05f, .momentum = 0.9f});
  data::BatchLoader tl(train, 25, data::preprocess::centered, true, 2);
  cfg.progress = false;
  Trainer<NLLLoss, SmallNet, SGD> t(*net, opt, cfg);
  REQUIRE(t.fit(tl, nullptr));
  return {{net->parameters().begin(), net->parameters().end()}, t.history().size()};
}

std::vector<float> train_two_epochs(Distributed* d) {
  TrainConfig cfg;
  cfg.epochs = 2;
  cfg.distributed = d;
  return train_small(cfg).parameters;
}
}  // namespace

namespace {
// A process whose rank 0 (standing in for another process) timed the first epoch at 14 s: the
// budget's one-value broadcast returns that time, whatever this process measured.
struct RankZeroTook14s : SoloProcess {
  using SoloProcess::broadcast;
  int budget_broadcasts = 0;
  void broadcast(std::span<double> values) override {
    if (values.size() != 1) return;  // only the budget's time is a single value
    ++budget_broadcasts;
    values[0] = 14.0;
  }
};
}  // namespace

TEST_CASE("distributed hooks: a time budget's epoch count is rank 0's, whatever this process's clock says") {
  TrainConfig cfg;
  cfg.epochs = 5;  // the cap: what this process's own millisecond epoch would fit
  cfg.time_budget_seconds = 60;
  cfg.schedule = options_text::parse_schedule("cosine:1", 0.05, 5, 4);
  RankZeroTook14s rank_zero;
  cfg.distributed = &rank_zero;
  const Trained run = train_small(cfg);
  CHECK(rank_zero.budget_broadcasts == 1);
  CHECK(run.epochs == 4);  // floor(0.97 * 60 s / 14 s)
}

TEST_CASE("distributed hooks: one process reduces every step and trains as the plain run") {
  SoloProcess solo;
  const auto with_hooks = train_two_epochs(&solo);
  CHECK(solo.reductions == 2 * 4);  // 100 images in batches of 25, two epochs
  CHECK(with_hooks == train_two_epochs(nullptr));
}
