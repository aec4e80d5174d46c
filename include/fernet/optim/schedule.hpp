#pragma once
// Learning-rate schedules with PyTorch's values step for step (torch.optim.lr_scheduler, 1.13):
//   StepLR            base * gamma^floor(t / step_size)
//   MultiStepLR       base * gamma^(number of milestones <= t)
//   WarmupCosineLR    LinearLR warm-up from base * warmup_start_factor to base over `warmup`
//                     steps, then CosineAnnealingLR(T_max, eta_min) (PyTorch: SequentialLR of the
//                     two, milestone = warmup); warmup = 0 is plain CosineAnnealingLR, periodic
//                     past T_max as PyTorch's
//   OneCycleLR        PyTorch's defaults: cosine annealing, pct_start 0.3, div_factor 25,
//                     final_div_factor 1e4, momentum cycling 0.95 -> 0.85 -> 0.95 (momentum_at:
//                     SGD's momentum or Adam's beta1), optional three phases and linear annealing
//   ReduceLROnPlateau mode min (loss) or max (accuracy), factor, patience, threshold (rel or abs),
//                     cooldown, min_lr, eps: the learning rate comes from the metrics seen so far
//
// t counts scheduler steps as PyTorch's last_epoch: the value for the first epoch (or batch) is
// lr_at(0), and t advances after each epoch (StepLR, MultiStepLR, WarmupCosineLR) or after each
// optimiser step (OneCycleLR), the unit recorded in `unit` (changeable for the first three).
// The closed-form schedules depend on t alone; ReduceLROnPlateau carries state. Every schedule
// writes its settings and state as one line of text (to_string / from_string; doubles in hex,
// exact), which a checkpoint stores so that a resumed run continues exactly.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <limits>
#include <map>
#include <numbers>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <variant>
#include <vector>

#include "../checkpoint.hpp"

namespace fernet {

enum class StepUnit { epoch, batch };

namespace detail {
struct ScheduleError : std::invalid_argument {
  using std::invalid_argument::invalid_argument;
};
[[noreturn]] inline void schedule_error(const std::string& who, const std::string& what) {
  throw ScheduleError("fernet::" + who + ": " + what);
}

// "name key=value key=value": the text form of every schedule. Doubles in hex float (exact).
class ScheduleText {
 public:
  explicit ScheduleText(std::string name) : text_(std::move(name)) {}
  ScheduleText& put(const std::string& key, double v) {
    char buf[64];
    std::snprintf(buf, sizeof buf, "%a", v);
    return put(key, std::string(buf));
  }
  ScheduleText& put(const std::string& key, long v) { return put(key, std::to_string(v)); }
  ScheduleText& put(const std::string& key, const std::string& v) {
    text_ += " " + key + "=" + v;
    return *this;
  }
  ScheduleText& put(const std::string& key, StepUnit u) {
    return put(key, std::string(u == StepUnit::batch ? "batch" : "epoch"));
  }
  const std::string& str() const { return text_; }

  // Parses text written for schedule `name`; every key read must be present.
  static ScheduleText parse(std::string_view text, const std::string& name) {
    std::istringstream in{std::string(text)};
    std::string word;
    in >> word;
    if (word != name) schedule_error(name, "expected a '" + name + "' schedule, got '" + std::string(text) + "'");
    ScheduleText t(name);
    while (in >> word) {
      const auto eq = word.find('=');
      if (eq == std::string::npos || eq == 0) schedule_error(name, "malformed entry '" + word + "' (want key=value)");
      t.values_[word.substr(0, eq)] = word.substr(eq + 1);
    }
    return t;
  }
  const std::string& raw(const std::string& key) const {
    auto it = values_.find(key);
    if (it == values_.end()) schedule_error(text_, "the schedule text has no '" + key + "'");
    return it->second;
  }
  double number(const std::string& key) const {
    const std::string& s = raw(key);
    char* end = nullptr;
    const double v = std::strtod(s.c_str(), &end);
    if (end == s.c_str() || *end != '\0') schedule_error(text_, "'" + key + "=" + s + "' is not a number");
    return v;
  }
  long integer(const std::string& key) const {
    const double v = number(key);
    if (v != std::floor(v)) schedule_error(text_, "'" + key + "' must be a whole number");
    return static_cast<long>(v);
  }
  StepUnit unit(const std::string& key) const {
    const std::string& s = raw(key);
    if (s == "epoch") return StepUnit::epoch;
    if (s == "batch") return StepUnit::batch;
    schedule_error(text_, "'" + key + "=" + s + "' must be epoch or batch");
  }

 private:
  std::string text_;
  std::map<std::string, std::string> values_;
};

inline void check_step(const char* who, long t) {
  if (t < 0) schedule_error(who, "step " + std::to_string(t) + " is negative");
}
}  // namespace detail

struct StepLR {
  static constexpr const char* name = "step";
  double base_lr = 0.1;
  long step_size = 30;
  double gamma = 0.1;
  StepUnit unit = StepUnit::epoch;

  void validate() const {
    if (!(base_lr >= 0) || step_size < 1 || !(gamma > 0))
      detail::schedule_error("StepLR", "needs base_lr >= 0, step_size >= 1 and gamma > 0 (got " +
                                           std::to_string(base_lr) + ", " + std::to_string(step_size) + ", " +
                                           std::to_string(gamma) + ")");
  }
  double lr_at(long t) const {
    detail::check_step("StepLR", t);
    return base_lr * std::pow(gamma, static_cast<double>(t / step_size));
  }
  std::string to_string() const {
    return detail::ScheduleText(name)
        .put("base_lr", base_lr)
        .put("step_size", step_size)
        .put("gamma", gamma)
        .put("unit", unit)
        .str();
  }
  static StepLR from_string(std::string_view text) {
    const auto t = detail::ScheduleText::parse(text, name);
    StepLR s{t.number("base_lr"), t.integer("step_size"), t.number("gamma"), t.unit("unit")};
    s.validate();
    return s;
  }
};

struct MultiStepLR {
  static constexpr const char* name = "multistep";
  double base_lr = 0.1;
  std::vector<long> milestones;  // increasing
  double gamma = 0.1;
  StepUnit unit = StepUnit::epoch;

  void validate() const {
    if (!(base_lr >= 0) || !(gamma > 0)) detail::schedule_error("MultiStepLR", "needs base_lr >= 0 and gamma > 0");
    if (!std::is_sorted(milestones.begin(), milestones.end()))
      detail::schedule_error("MultiStepLR", "milestones must be in increasing order");
  }
  double lr_at(long t) const {
    detail::check_step("MultiStepLR", t);
    const auto passed = std::upper_bound(milestones.begin(), milestones.end(), t) - milestones.begin();
    return base_lr * std::pow(gamma, static_cast<double>(passed));
  }
  std::string to_string() const {
    std::string list;
    for (long m : milestones) list += (list.empty() ? "" : ",") + std::to_string(m);
    return detail::ScheduleText(name)
        .put("base_lr", base_lr)
        .put("milestones", list.empty() ? "none" : list)
        .put("gamma", gamma)
        .put("unit", unit)
        .str();
  }
  static MultiStepLR from_string(std::string_view text) {
    const auto t = detail::ScheduleText::parse(text, name);
    MultiStepLR s{t.number("base_lr"), {}, t.number("gamma"), t.unit("unit")};
    const std::string list = t.raw("milestones");
    if (list != "none") {
      std::istringstream in(list);
      std::string item;
      while (std::getline(in, item, ',')) {
        char* end = nullptr;
        const long m = std::strtol(item.c_str(), &end, 10);
        if (item.empty() || *end != '\0')
          detail::schedule_error("MultiStepLR", "milestone '" + item + "' is not a whole number");
        s.milestones.push_back(m);
      }
    }
    s.validate();
    return s;
  }
};

struct WarmupCosineLR {
  static constexpr const char* name = "cosine";
  double base_lr = 0.1;
  long warmup = 0;                         // linear warm-up steps (0: none)
  double warmup_start_factor = 1.0 / 3.0;  // LinearLR's default
  long t_max = 100;                        // cosine half-period, counted after the warm-up
  double eta_min = 0.0;
  StepUnit unit = StepUnit::epoch;

  void validate() const {
    if (!(base_lr >= 0) || warmup < 0 || t_max < 1 || !(warmup_start_factor > 0 && warmup_start_factor <= 1))
      detail::schedule_error("WarmupCosineLR",
                             "needs base_lr >= 0, warmup >= 0, t_max >= 1 and 0 < "
                             "warmup_start_factor <= 1 (got " +
                                 std::to_string(base_lr) + ", " + std::to_string(warmup) + ", " +
                                 std::to_string(t_max) + ", " + std::to_string(warmup_start_factor) + ")");
  }
  double lr_at(long t) const {
    detail::check_step("WarmupCosineLR", t);
    if (t < warmup)
      return base_lr * (warmup_start_factor + (1.0 - warmup_start_factor) * static_cast<double>(t) / warmup);
    const double phase = std::numbers::pi * static_cast<double>(t - warmup) / static_cast<double>(t_max);
    return eta_min + (base_lr - eta_min) * (1.0 + std::cos(phase)) / 2.0;
  }
  std::string to_string() const {
    return detail::ScheduleText(name)
        .put("base_lr", base_lr)
        .put("warmup", warmup)
        .put("warmup_start_factor", warmup_start_factor)
        .put("t_max", t_max)
        .put("eta_min", eta_min)
        .put("unit", unit)
        .str();
  }
  static WarmupCosineLR from_string(std::string_view text) {
    const auto t = detail::ScheduleText::parse(text, name);
    WarmupCosineLR s{t.number("base_lr"), t.integer("warmup"), t.number("warmup_start_factor"),
                     t.integer("t_max"),  t.number("eta_min"), t.unit("unit")};
    s.validate();
    return s;
  }
};

struct OneCycleLR {
  static constexpr const char* name = "onecycle";
  double max_lr = 0.1;
  long total_steps = 100;  // epochs * batches per epoch
  double pct_start = 0.3;
  bool cosine = true;  // false: linear annealing
  double div_factor = 25.0;
  double final_div_factor = 1e4;
  bool three_phase = false;
  double base_momentum = 0.85, max_momentum = 0.95;
  static constexpr StepUnit unit = StepUnit::batch;

  void validate() const {
    if (!(max_lr >= 0) || total_steps < 1 || !(pct_start >= 0 && pct_start <= 1) || !(div_factor > 0) ||
        !(final_div_factor > 0))
      detail::schedule_error("OneCycleLR",
                             "needs max_lr >= 0, total_steps >= 1, pct_start in [0, 1] and positive "
                             "div factors (got " +
                                 std::to_string(max_lr) + ", " + std::to_string(total_steps) + ", " +
                                 std::to_string(pct_start) + ")");
  }
  double lr_at(long t) const { return at(t, false); }
  double momentum_at(long t) const { return at(t, true); }

  std::string to_string() const {
    return detail::ScheduleText(name)
        .put("max_lr", max_lr)
        .put("total_steps", total_steps)
        .put("pct_start", pct_start)
        .put("anneal", std::string(cosine ? "cos" : "linear"))
        .put("div_factor", div_factor)
        .put("final_div_factor", final_div_factor)
        .put("three_phase", static_cast<long>(three_phase))
        .put("base_momentum", base_momentum)
        .put("max_momentum", max_momentum)
        .str();
  }
  static OneCycleLR from_string(std::string_view text) {
    const auto t = detail::ScheduleText::parse(text, name);
    const std::string anneal = t.raw("anneal");
    if (anneal != "cos" && anneal != "linear")
      detail::schedule_error("OneCycleLR", "anneal must be cos or linear, got " + anneal);
    OneCycleLR s{
        t.number("max_lr"),      t.integer("total_steps"),     t.number("pct_start"),         anneal == "cos",
        t.number("div_factor"),  t.number("final_div_factor"), t.integer("three_phase") != 0, t.number("base_momentum"),
        t.number("max_momentum")};
    s.validate();
    return s;
  }

 private:
  struct Phase {
    double end_step, start_lr, end_lr, start_momentum, end_momentum;
  };
  // PyTorch's phases, end steps as floats as there.
  std::vector<Phase> phases() const {
    const double initial = max_lr / div_factor, min_lr = initial / final_div_factor;
    const double steps = static_cast<double>(total_steps);
    if (three_phase)
      return {{pct_start * steps - 1, initial, max_lr, max_momentum, base_momentum},
              {2 * pct_start * steps - 2, max_lr, initial, base_momentum, max_momentum},
              {steps - 1, initial, min_lr, max_momentum, max_momentum}};
    return {{pct_start * steps - 1, initial, max_lr, max_momentum, base_momentum},
            {steps - 1, max_lr, min_lr, base_momentum, max_momentum}};
  }
  double anneal(double start, double end, double pct) const {
    if (cosine) return end + (start - end) / 2.0 * (std::cos(std::numbers::pi * pct) + 1.0);
    return (end - start) * pct + start;
  }
  double at(long t, bool momentum) const {
    detail::check_step("OneCycleLR", t);
    if (t > total_steps)
      detail::schedule_error("OneCycleLR",
                             "step " + std::to_string(t) + " is past total_steps " + std::to_string(total_steps));
    const auto ph = phases();
    double start_step = 0;
    for (std::size_t i = 0; i < ph.size(); ++i) {
      if (static_cast<double>(t) <= ph[i].end_step || i + 1 == ph.size()) {
        const double pct = (static_cast<double>(t) - start_step) / (ph[i].end_step - start_step);
        return momentum ? anneal(ph[i].start_momentum, ph[i].end_momentum, pct)
                        : anneal(ph[i].start_lr, ph[i].end_lr, pct);
      }
      start_step = ph[i].end_step;
    }
    return 0;  // not reached: the last phase always answers
  }
};

class ReduceLROnPlateau {
 public:
  static constexpr const char* name = "plateau";
  static constexpr StepUnit unit = StepUnit::epoch;
  enum class Mode { min, max };  // min: a loss; max: an accuracy
  struct Options {
    double base_lr = 0.1;
    Mode mode = Mode::min;
    double factor = 0.1;
    long patience = 10;
    double threshold = 1e-4;
    bool relative = true;  // threshold_mode 'rel' (else 'abs')
    long cooldown = 0;
    double min_lr = 0.0;
    double eps = 1e-8;
  };

  explicit ReduceLROnPlateau(Options o) : o_(o), lr_(o.base_lr) {
    if (!(o.factor < 1.0 && o.factor >= 0) || o.patience < 0 || o.cooldown < 0 || !(o.base_lr >= 0) || !(o.min_lr >= 0))
      detail::schedule_error("ReduceLROnPlateau",
                             "needs 0 <= factor < 1, patience >= 0, cooldown >= 0 and "
                             "learning rates >= 0 (got factor " +
                                 std::to_string(o.factor) + ")");
    best_ = worst();
  }

  double lr() const { return lr_; }
  const Options& options() const { return o_; }
  long epochs() const { return epochs_; }
  double best() const { return best_; }
  long bad_epochs() const { return bad_epochs_; }

  // After an epoch, with its metric: returns true when the learning rate was reduced.
  bool step(double metric) {
    ++epochs_;
    if (better(metric)) {
      best_ = metric;
      bad_epochs_ = 0;
    } else {
      ++bad_epochs_;
    }
    if (cooldown_left_ > 0) {
      --cooldown_left_;
      bad_epochs_ = 0;
    }
    if (bad_epochs_ > o_.patience) {
      const double reduced = std::max(lr_ * o_.factor, o_.min_lr);
      const bool changed = lr_ - reduced > o_.eps;
      if (changed) lr_ = reduced;
      cooldown_left_ = o_.cooldown;
      bad_epochs_ = 0;
      return changed;
    }
    return false;
  }

  std::string to_string() const {
    return detail::ScheduleText(name)
        .put("base_lr", o_.base_lr)
        .put("mode", std::string(o_.mode == Mode::min ? "min" : "max"))
        .put("factor", o_.factor)
        .put("patience", o_.patience)
        .put("threshold", o_.threshold)
        .put("threshold_mode", std::string(o_.relative ? "rel" : "abs"))
        .put("cooldown", o_.cooldown)
        .put("min_lr", o_.min_lr)
        .put("eps", o_.eps)
        .put("lr", lr_)
        .put("best", best_)
        .put("bad_epochs", bad_epochs_)
        .put("cooldown_left", cooldown_left_)
        .put("epochs", epochs_)
        .str();
  }
  static ReduceLROnPlateau from_string(std::string_view text) {
    const auto t = detail::ScheduleText::parse(text, name);
    Options o;
    o.base_lr = t.number("base_lr");
    const std::string mode = t.raw("mode"), tm = t.raw("threshold_mode");
    if (mode != "min" && mode != "max")
      detail::schedule_error("ReduceLROnPlateau", "mode must be min or max, got " + mode);
    if (tm != "rel" && tm != "abs")
      detail::schedule_error("ReduceLROnPlateau", "threshold_mode must be rel or abs, got " + tm);
    o.mode = mode == "min" ? Mode::min : Mode::max;
    o.relative = tm == "rel";
    o.factor = t.number("factor");
    o.patience = t.integer("patience");
    o.threshold = t.number("threshold");
    o.cooldown = t.integer("cooldown");
    o.min_lr = t.number("min_lr");
    o.eps = t.number("eps");
    ReduceLROnPlateau s(o);
    s.lr_ = t.number("lr");
    s.best_ = t.number("best");
    s.bad_epochs_ = t.integer("bad_epochs");
    s.cooldown_left_ = t.integer("cooldown_left");
    s.epochs_ = t.integer("epochs");
    return s;
  }

 private:
  double worst() const {
    return o_.mode == Mode::min ? std::numeric_limits<double>::infinity() : -std::numeric_limits<double>::infinity();
  }
  bool better(double a) const {
    if (o_.mode == Mode::min) return o_.relative ? a < best_ * (1.0 - o_.threshold) : a < best_ - o_.threshold;
    return o_.relative ? a > best_ * (o_.threshold + 1.0) : a > best_ + o_.threshold;
  }

  Options o_;
  double lr_;
  double best_ = 0;
  long bad_epochs_ = 0, cooldown_left_ = 0, epochs_ = 0;
};

// Any of the schedules above, or a constant rate, behind one interface for a training loop:
//   before each optimiser step:  opt.set_lr(static_cast<float>(s.lr(epochs_done, steps_done)))
//   after each epoch:            s.end_epoch(metric)   (only ReduceLROnPlateau uses the metric)
// epochs_done counts completed epochs, steps_done completed optimiser steps (both from 0).
class LrSchedule {
 public:
  struct Constant {
    static constexpr const char* name = "constant";
    double lr = 0.1;
  };
  using Any = std::variant<Constant, StepLR, MultiStepLR, WarmupCosineLR, OneCycleLR, ReduceLROnPlateau>;

  LrSchedule(Any s) : s_(std::move(s)) {
    std::visit(
        [](const auto& v) {
          if constexpr (requires { v.validate(); }) v.validate();
        },
        s_);
  }
  static LrSchedule constant(double lr) { return LrSchedule(Constant{lr}); }

  const Any& get() const { return s_; }
  bool per_batch() const {
    return std::visit(
        [](const auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, Constant>) return false;
          else return s.unit == StepUnit::batch;
        },
        s_);
  }
  double lr(long epochs_done, long steps_done) const {
    return std::visit(
        [&](const auto& s) -> double {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, Constant>) return s.lr;
          else if constexpr (std::is_same_v<T, ReduceLROnPlateau>) return s.lr();
          else return s.lr_at(s.unit == StepUnit::batch ? steps_done : epochs_done);
        },
        s_);
  }
  void end_epoch(double metric) {
    if (auto* p = std::get_if<ReduceLROnPlateau>(&s_)) p->step(metric);
  }

  // Sets the run's length to `epochs` epochs of `batches` steps, for the schedules that depend
  // on it (cosine's t_max after its warm-up, onecycle's total); the others do not change. A run
  // fitted to a time budget calls it after its first epoch (train/time_budget.hpp).
  void set_run_length(long epochs, long batches) {
    if (epochs < min_run_epochs())
      detail::schedule_error("LrSchedule", "a run of " + std::to_string(epochs) + " epochs is too short for '" +
                                               to_string() + "' (at least " + std::to_string(min_run_epochs()) + ")");
    if (auto* c = std::get_if<WarmupCosineLR>(&s_))
      c->t_max = (c->unit == StepUnit::epoch ? epochs : epochs * batches) - c->warmup;
    else if (auto* o = std::get_if<OneCycleLR>(&s_))
      o->total_steps = epochs * batches;
    std::visit(
        [](const auto& v) {
          if constexpr (requires { v.validate(); }) v.validate();
        },
        s_);
  }
  // The shortest run set_run_length accepts: past an epoch-stepped warm-up.
  // The schedule's kind as a user names it ("cosine", "onecycle"...), for messages.
  const char* name() const {
    return std::visit([](const auto& s) { return std::decay_t<decltype(s)>::name; }, s_);
  }

  long min_run_epochs() const {
    const auto* c = std::get_if<WarmupCosineLR>(&s_);
    return c && c->unit == StepUnit::epoch ? c->warmup + 1 : 1;
  }

  std::string to_string() const {
    return std::visit(
        [](const auto& s) {
          using T = std::decay_t<decltype(s)>;
          if constexpr (std::is_same_v<T, Constant>) return detail::ScheduleText(T::name).put("lr", s.lr).str();
          else return s.to_string();
        },
        s_);
  }
  // Checkpoint state: the meta entry "lr_schedule".
  void save(Checkpoint& c) const { c.meta["lr_schedule"] = to_string(); }
  static LrSchedule restore(const Checkpoint& c, const std::string& source) {
    const std::string text = c.get("lr_schedule");
    if (text.empty()) throw CheckpointError(source + ": checkpoint has no 'lr_schedule' entry");
    try {
      return from_string(text);
    } catch (const detail::ScheduleError& e) { throw CheckpointError(source + ": " + e.what()); }
  }

  static LrSchedule from_string(std::string_view text) {
    const std::string head{text.substr(0, text.find(' '))};
    if (head == Constant::name) return constant(detail::ScheduleText::parse(text, Constant::name).number("lr"));
    if (head == StepLR::name) return LrSchedule(StepLR::from_string(text));
    if (head == MultiStepLR::name) return LrSchedule(MultiStepLR::from_string(text));
    if (head == WarmupCosineLR::name) return LrSchedule(WarmupCosineLR::from_string(text));
    if (head == OneCycleLR::name) return LrSchedule(OneCycleLR::from_string(text));
    if (head == ReduceLROnPlateau::name) return LrSchedule(ReduceLROnPlateau::from_string(text));
    detail::schedule_error("LrSchedule",
                           "unknown schedule '" + head + "' (constant, step, multistep, cosine, onecycle or plateau)");
  }

 private:
  Any s_;
};

}  // namespace fernet
