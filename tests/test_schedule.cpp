// Learning-rate schedules against PyTorch step by step (reference values from
// tests/reference/make_schedule_reference.py), their text state (a resumed schedule continues
// exactly), gradient clipping against torch.nn.utils.clip_grad_norm_, and weight averaging.
#include <doctest/doctest.h>

#include <cmath>
#include <cstring>
#include <filesystem>
#include <span>
#include <string>
#include <vector>

#include <unistd.h>

#include <fernet/optim/regularise.hpp>
#include <fernet/optim/schedule.hpp>

#include "reference/schedule_reference.hpp"

using namespace fernet;
namespace ref = fernet_schedule_reference;

namespace {

template <class F>
void check_sequence(const char* what, std::span<const double> want, F&& got) {
  INFO(what);
  for (std::size_t t = 0; t < want.size(); ++t) {
    INFO("step " << t);
    const double g = got(static_cast<long>(t));
    REQUIRE(std::abs(g - want[t]) <= 1e-6 * std::abs(want[t]) + 1e-15);
  }
}

}  // namespace

TEST_CASE("schedule: StepLR and MultiStepLR match PyTorch") {
  const StepLR step{.base_lr = 0.1, .step_size = 3, .gamma = 0.5};
  check_sequence("StepLR", ref::step_lr, [&](long t) { return step.lr_at(t); });
  const MultiStepLR multi{.base_lr = 0.05, .milestones = {2, 5, 9}, .gamma = 0.3};
  check_sequence("MultiStepLR", ref::multistep_lr, [&](long t) { return multi.lr_at(t); });
}

TEST_CASE("schedule: cosine annealing, with and without linear warm-up, matches PyTorch past T_max") {
  const WarmupCosineLR warm{.base_lr = 0.1, .warmup = 5, .warmup_start_factor = 0.1, .t_max = 20, .eta_min = 1e-4};
  check_sequence("LinearLR + CosineAnnealingLR", ref::warmup_cosine_lr, [&](long t) { return warm.lr_at(t); });
  const WarmupCosineLR plain{.base_lr = 0.2, .warmup = 0, .t_max = 7, .eta_min = 0.01};
  check_sequence("CosineAnnealingLR", ref::cosine_lr, [&](long t) { return plain.lr_at(t); });
}

TEST_CASE("schedule: OneCycleLR (defaults; three phases with linear annealing) matches PyTorch, momentum too") {
  const OneCycleLR one{.max_lr = 0.5, .total_steps = 50};
  check_sequence("OneCycleLR lr", ref::onecycle_lr, [&](long t) { return one.lr_at(t); });
  check_sequence("OneCycleLR momentum", ref::onecycle_momentum, [&](long t) { return one.momentum_at(t); });
  const OneCycleLR three{.max_lr = 0.3,
                         .total_steps = 37,
                         .pct_start = 0.25,
                         .cosine = false,
                         .div_factor = 10.0,
                         .final_div_factor = 100.0,
                         .three_phase = true};
  check_sequence("three-phase lr", ref::onecycle3_lr, [&](long t) { return three.lr_at(t); });
  check_sequence("three-phase momentum", ref::onecycle3_momentum, [&](long t) { return three.momentum_at(t); });
  CHECK_THROWS_WITH_AS(one.lr_at(51), "fernet::OneCycleLR: step 51 is past total_steps 50", std::invalid_argument);
}

TEST_CASE("schedule: ReduceLROnPlateau (min/rel with cooldown, max/abs) matches PyTorch") {
  ReduceLROnPlateau loss({.base_lr = 0.1,
                          .mode = ReduceLROnPlateau::Mode::min,
                          .factor = 0.5,
                          .patience = 2,
                          .cooldown = 1,
                          .min_lr = 0.01});
  check_sequence("min", ref::plateau_min_lr, [&](long t) {
    loss.step(ref::plateau_loss[t]);
    return loss.lr();
  });
  ReduceLROnPlateau acc({.base_lr = 0.05,
                         .mode = ReduceLROnPlateau::Mode::max,
                         .factor = 0.2,
                         .patience = 1,
                         .threshold = 0.01,
                         .relative = false,
                         .min_lr = 1e-4});
  check_sequence("max", ref::plateau_max_lr, [&](long t) {
    acc.step(ref::plateau_accuracy[t]);
    return acc.lr();
  });
}

TEST_CASE("schedule: a plateau schedule resumed from its text ends bit-identical to an uninterrupted one") {
  const ReduceLROnPlateau::Options o{.base_lr = 0.1, .factor = 0.5, .patience = 2, .cooldown = 1, .min_lr = 0.01};
  ReduceLROnPlateau whole(o), first(o);
  const std::size_t n = std::size(ref::plateau_loss);
  for (std::size_t t = 0; t < n; ++t) whole.step(ref::plateau_loss[t]);
  for (std::size_t t = 0; t < 10; ++t) first.step(ref::plateau_loss[t]);
  ReduceLROnPlateau resumed = ReduceLROnPlateau::from_string(first.to_string());
  CHECK(resumed.to_string() == first.to_string());
  for (std::size_t t = 10; t < n; ++t) resumed.step(ref::plateau_loss[t]);
  CHECK(resumed.to_string() == whole.to_string());
  const double a = resumed.lr(), b = whole.lr();
  CHECK(std::memcmp(&a, &b, sizeof a) == 0);

  // The same through a checkpoint file, behind LrSchedule.
  LrSchedule part(ReduceLROnPlateau{o});
  for (std::size_t t = 0; t < 10; ++t) part.end_epoch(ref::plateau_loss[t]);
  const auto path = std::filesystem::temp_directory_path() / ("fernet_sched_" + std::to_string(::getpid()) + ".fernet");
  Checkpoint c;
  part.save(c);
  c.save(path.string());
  LrSchedule back = LrSchedule::restore(Checkpoint::load(path.string()), path.string());
  std::filesystem::remove(path);
  for (std::size_t t = 10; t < n; ++t) back.end_epoch(ref::plateau_loss[t]);
  CHECK(back.to_string() == whole.to_string());
  CHECK_THROWS_WITH_AS(LrSchedule::restore(Checkpoint{}, "old.fernet"),
                       "old.fernet: checkpoint has no 'lr_schedule' entry", CheckpointError);
}

TEST_CASE("schedule: LrSchedule picks epochs or steps, round-trips through text, and names bad text") {
  const LrSchedule cosine(WarmupCosineLR{.base_lr = 0.1, .warmup = 2, .t_max = 10});
  const LrSchedule cycle(OneCycleLR{.max_lr = 0.5, .total_steps = 50});
  CHECK(!cosine.per_batch());
  CHECK(cycle.per_batch());
  CHECK(cosine.lr(4, 123) == WarmupCosineLR{.base_lr = 0.1, .warmup = 2, .t_max = 10}.lr_at(4));
  CHECK(cycle.lr(4, 17) == OneCycleLR{.max_lr = 0.5, .total_steps = 50}.lr_at(17));
  for (const LrSchedule& s :
       {cosine, cycle, LrSchedule(StepLR{.base_lr = 0.3, .step_size = 4, .gamma = 0.7}),
        LrSchedule(MultiStepLR{.base_lr = 1.0 / 3, .milestones = {3, 8}}), LrSchedule(MultiStepLR{.base_lr = 0.2}),
        LrSchedule::constant(1e-3), LrSchedule(ReduceLROnPlateau({.base_lr = 0.01}))}) {
    INFO(s.to_string());
    const LrSchedule back = LrSchedule::from_string(s.to_string());
    CHECK(back.to_string() == s.to_string());
    for (long t : {0L, 3L, 9L}) CHECK(back.lr(t, 5 * t) == s.lr(t, 5 * t));
  }
  LrSchedule plateau(ReduceLROnPlateau({.base_lr = 0.1, .patience = 0}));
  plateau.end_epoch(1.0);
  plateau.end_epoch(2.0);
  CHECK(plateau.lr(2, 0) == doctest::Approx(0.01));
  CHECK_THROWS_WITH_AS(LrSchedule::from_string("linear base_lr=1"),
                       "fernet::LrSchedule: unknown schedule 'linear' (constant, step, multistep, cosine, onecycle or "
                       "plateau)",
                       std::invalid_argument);
  CHECK_THROWS_WITH_AS(LrSchedule::from_string("step base_lr=0.1 gamma=0.5 unit=epoch"),
                       "fernet::step: the schedule text has no 'step_size'", std::invalid_argument);
  CHECK_THROWS_WITH_AS(LrSchedule(StepLR{.step_size = 0}),
                       "fernet::StepLR: needs base_lr >= 0, step_size >= 1 and gamma > 0 (got 0.100000, 0, 0.100000)",
                       std::invalid_argument);
}

TEST_CASE("clip_grad_norm: equals torch.nn.utils.clip_grad_norm_ when clipping and when not") {
  for (auto [max_norm, norm, grads] :
       {std::tuple{0.5f, ref::clip_small_norm[0], std::span<const float>(ref::clip_small_grads)},
        std::tuple{100.f, ref::clip_large_norm[0], std::span<const float>(ref::clip_large_grads)}}) {
    INFO("max_norm " << max_norm);
    std::vector<float> g(std::begin(ref::clip_grads), std::end(ref::clip_grads));
    CHECK(clip_grad_norm(g, max_norm) == doctest::Approx(norm).epsilon(1e-6));
    for (std::size_t i = 0; i < g.size(); ++i) CHECK(g[i] == doctest::Approx(grads[i]).epsilon(1e-6));
  }
  std::vector<float> g{3.f, 4.f};
  CHECK_THROWS_WITH_AS(clip_grad_norm(g, 0.f), "fernet::clip_grad_norm: max_norm must be positive, got 0.000000",
                       std::invalid_argument);
}

TEST_CASE(
    "WeightAverage: the moving average by hand, warm-up, buffers, and a checkpoint resume that ends bit-identical") {
  std::vector<float> p{1.f, -2.f}, b{10.f};
  WeightAverage ema(p, b, {.decay = 0.9f});
  p = {2.f, 0.f};
  b = {20.f};
  ema.update(p, b);
  CHECK(ema.parameters()[0] == doctest::Approx(1.1f));
  CHECK(ema.parameters()[1] == doctest::Approx(-1.8f));
  CHECK(ema.buffers()[0] == doctest::Approx(11.f));
  WeightAverage copied(p, b, {.decay = 0.9f, .average_buffers = false});
  b = {30.f};
  copied.update(p, b);
  CHECK(copied.buffers()[0] == 30.f);
  WeightAverage warm(p, b, {.decay = 0.999f, .warmup = true});
  CHECK(warm.current_decay() == doctest::Approx(0.1f));  // (1 + 0) / (10 + 0)
  std::vector<float> out(2), out_b(1);
  ema.copy_to(out, out_b);
  CHECK(out[0] == ema.parameters()[0]);
  CHECK_THROWS_WITH_AS(ema.update(std::vector<float>(3), b),
                       "fernet::WeightAverage::update: model has 3 parameters and 1 buffers, the average 2 and 1",
                       std::invalid_argument);

  // 20 updates straight, against 8 + checkpoint + 12.
  auto weights = [](int step) {
    return std::vector<float>{std::sin(0.3f * step), std::cos(0.7f * step), 0.01f * step};
  };
  std::vector<float> buf{0.f};
  WeightAverage whole(weights(0), buf, {.decay = 0.95f, .warmup = true}),
      part(weights(0), buf, {.decay = 0.95f, .warmup = true});
  for (int s = 1; s <= 20; ++s) whole.update(weights(s), std::vector<float>{float(s)});
  for (int s = 1; s <= 8; ++s) part.update(weights(s), std::vector<float>{float(s)});
  const auto path = std::filesystem::temp_directory_path() / ("fernet_ema_" + std::to_string(::getpid()) + ".fernet");
  Checkpoint c;
  part.save(c);
  c.save(path.string());
  WeightAverage resumed(weights(0), buf, {.decay = 0.95f, .warmup = true});
  resumed.restore(Checkpoint::load(path.string()), path.string());
  std::filesystem::remove(path);
  CHECK(resumed.updates() == 8);
  for (int s = 9; s <= 20; ++s) resumed.update(weights(s), std::vector<float>{float(s)});
  CHECK(std::memcmp(resumed.parameters().data(), whole.parameters().data(), 3 * sizeof(float)) == 0);
  CHECK(std::memcmp(resumed.buffers().data(), whole.buffers().data(), sizeof(float)) == 0);
}
