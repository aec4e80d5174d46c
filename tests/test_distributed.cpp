// The Trainer's data-parallel hooks (train/distributed.hpp) with a single process standing in for
// the transport: the reducer is called for every step and the run equals the plain one. Built
// into fernet_asan_tests too, where it caught the step's reducer reading a pointer whose scope had
// ended (stack-use-after-scope; found by the whole suite under ASan, in cli.mpi).
#include <doctest/doctest.h>

#include <memory>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/train/trainer.hpp>

#include "training_fixtures.hpp"

using namespace fernet;

namespace {
// One process: every collective is the identity; counts what the Trainer asked for.
struct SoloProcess final : Distributed {
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

std::vector<float> train_two_epochs(Distributed* d) {
  const auto ds = test::synthetic(100, 20, 8);
  const auto train = ds.split(data::Split::Training);
  auto net = std::make_unique<SmallNet>(2);
  SGD opt(*net, {.lr = 0.05f, .momentum = 0.9f});
  data::BatchLoader tl(train, 25, data::preprocess::centered, true, 2);
  TrainConfig cfg;
  cfg.epochs = 2;
  cfg.progress = false;
  cfg.distributed = d;
  Trainer<NLLLoss, SmallNet, SGD> t(*net, opt, cfg);
  REQUIRE(t.fit(tl, nullptr));
  return {net->parameters().begin(), net->parameters().end()};
}
}  // namespace

TEST_CASE("distributed hooks: one process reduces every step and trains as the plain run") {
  SoloProcess solo;
  const auto with_hooks = train_two_epochs(&solo);
  CHECK(solo.reductions == 2 * 4);  // 100 images in batches of 25, two epochs
  CHECK(with_hooks == train_two_epochs(nullptr));
}
