#pragma once
// Training to a wall-clock budget: "the best model this machine trains in 60 minutes". The run's
// first epoch (training and evaluation) is timed, and the epoch count becomes the most whole
// epochs that fit in the budget at that pace. The learning-rate schedule is then set to that
// length (LrSchedule::set_run_length), so a cosine schedule still ends at its minimum. The
// count is fixed once and stored in the checkpoints: a resumed run trains to it, whatever the
// clock says later, and ends bit-identical to an uninterrupted one. Only a schedule whose first
// epoch does not depend on the run's length can be fitted (epoch-stepped ones; not onecycle).
#include <algorithm>
#include <cmath>
#include <optional>
#include <stdexcept>
#include <sstream>
#include <string>

#include "../optim/schedule.hpp"
#include "recipes.hpp"

namespace fernet {

namespace time_budget {
// Epoch times here vary by about +-3% over a run (VGG recipes, Zen 5 and AVX2 EPYC), and the
// first epoch is not the slowest: plan on 97% of the budget so that the run ends inside it.
inline constexpr double planned_share = 0.97;
// The most epochs a budget may give when no --epochs bounds it (the literature's longest
// from-scratch FER2013 runs are 300 epochs).
inline constexpr int default_max_epochs = 300;
}  // namespace time_budget

// The two rules a budget obeys, kept here for every place that takes one (the Trainer, the
// `fernet` program's flags, the recipes' run lengths). Each returns what is wrong, or "" when
// nothing is, and the caller throws its own error type with the text.
//
// A budget is a finite amount >= 0 of `unit` ("minutes", "seconds"); 0 means none.
inline std::string time_budget_problem(double amount, const std::string& unit) {
  if (amount >= 0 && std::isfinite(amount)) return {};
  std::ostringstream v;
  v << amount;
  return "the time budget must be a number of " + unit + " >= 0 (0: none), got " + v.str();
}
// The first epoch runs before the length is known, so its learning rates must not depend on it:
// with a budget, only an epoch-stepped schedule.
inline std::string time_budget_schedule_problem(bool budgeted, const LrSchedule& schedule) {
  if (!budgeted || !schedule.per_batch()) return {};
  return "a time budget fixes the epoch count after the first epoch, but the schedule '" + std::string(schedule.name()) +
         "' steps every batch and needs the run's length from its first step; use an epoch-stepped schedule "
         "(cosine, step, plateau) or a fixed epoch count";
}

// The epochs a run gets from `budget_seconds` when its first epoch took `first_epoch_seconds`:
// floor(planned_share * budget / first epoch), within [min_epochs, max_epochs].
inline int epochs_for_budget(double budget_seconds, double first_epoch_seconds, int min_epochs, int max_epochs) {
  if (!(budget_seconds > 0) || !std::isfinite(budget_seconds))
    throw std::invalid_argument("the time budget must be a positive number of seconds, got " +
                                std::to_string(budget_seconds));
  if (min_epochs < 1 || max_epochs < min_epochs)
    throw std::invalid_argument("epochs_for_budget: need 1 <= min_epochs <= max_epochs (got " +
                                std::to_string(min_epochs) + ", " + std::to_string(max_epochs) + ")");
  // A first epoch timed at 0 s (a coarse clock, an empty data set) fits as many as allowed.
  const double fit = first_epoch_seconds > 0 ? std::floor(time_budget::planned_share * budget_seconds /
                                                         first_epoch_seconds)
                                             : static_cast<double>(max_epochs);
  return static_cast<int>(std::clamp(fit, static_cast<double>(min_epochs), static_cast<double>(max_epochs)));
}

// A run's length from a recipe and the flags a user gave (nullopt: not given). --epochs alone
// trains exactly that many (no budget); --time-budget alone fits up to default_max_epochs;
// both: the budget's count, at most --epochs; neither: the recipe's (its budget when it has
// one). A budget of 0 turns the recipe's off (then its fixed epoch count).
struct RunLength {
  int epochs = 0;                  // the count, or with a budget the most it may give
  double time_budget_minutes = 0;  // 0: none
};
inline RunLength run_length(const Recipe& r, std::optional<int> epochs, std::optional<double> budget_minutes) {
  RunLength l;
  l.time_budget_minutes = budget_minutes ? *budget_minutes : (epochs ? 0.0 : r.time_budget_minutes);
  if (const std::string problem = time_budget_problem(l.time_budget_minutes, "minutes"); !problem.empty())
    throw std::invalid_argument("--time-budget: " + problem);
  l.epochs = epochs ? *epochs : (l.time_budget_minutes > 0 ? time_budget::default_max_epochs : r.epochs);
  return l;
}

}  // namespace fernet
