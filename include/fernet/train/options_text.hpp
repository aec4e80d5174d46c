#pragma once
// The text forms of a run's accuracy options, one grammar for the recipes, the `fernet train`
// flags, run.json and checkpoint metadata (so eval and predict apply what training used):
//
//   augmentation  comma-separated steps, applied in order, each name[=a:b:...]:
//                   crop=SIZE[:PAD]              RandomCrop SIZExSIZE after PAD pixels of black
//                   flip[=P]                     HorizontalFlip, probability P (0.5)
//                   affine=DEG[:SHIFT[:SCALE]]   rotation +-DEG, shift +-SHIFT of the size,
//                                                scale 1 +- SCALE; border replicated
//                   erasing[=P]                  RandomErasing, probability P (0.5), mid grey
//                   jitter=B[:C]                 BrightnessContrast, brightness B, contrast C
//                 e.g. "crop=44:4,flip,affine=10:0.05:0.1,erasing=0.5"; "" or "none": nothing
//   schedule      constant | cosine[:WARMUP] (warm-up epochs, then cosine to 0 at the last
//                 epoch) | step:SIZE[:GAMMA] | onecycle (per batch, max lr = the lr) |
//                 plateau[:PATIENCE[:FACTOR]] (evaluation accuracy); the base lr is the run's lr
//   tta           none | center:SIZE | mirrored:SIZE | ten-crop:SIZE (train/tta.hpp's views of
//                 SIZExSIZE crops)
// Errors name the option, the text and what was expected.
#include <optional>
#include <sstream>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "../data/augment/all.hpp"
#include "../data/batches.hpp"
#include "../optim/schedule.hpp"
#include "tta.hpp"

namespace fernet::options_text {

namespace detail {
[[noreturn]] inline void fail(const std::string& option, std::string_view text, const std::string& what) {
  throw std::invalid_argument(option + " '" + std::string(text) + "': " + what);
}
inline std::vector<std::string> split(std::string_view text, char sep) {
  std::vector<std::string> out;
  std::string part;
  std::istringstream in{std::string(text)};
  while (std::getline(in, part, sep)) out.push_back(part);
  return out;
}
// name and its ':'-separated numbers of "name=a:b" ("name:a:b" for schedules and TTA).
struct Item {
  std::string name;
  std::vector<double> numbers;
};
inline Item item(const std::string& option, std::string_view text, char after_name) {
  const std::string s(text);
  const auto at = s.find(after_name);
  Item it{s.substr(0, at), {}};
  if (at == std::string::npos) return it;
  for (const auto& word : split(std::string_view(s).substr(at + 1), ':')) {
    char* end = nullptr;
    const double v = std::strtod(word.c_str(), &end);
    if (word.empty() || *end != '\0') fail(option, text, "'" + word + "' is not a number");
    it.numbers.push_back(v);
  }
  return it;
}
inline double arg(const Item& it, std::size_t i, double fallback) {
  return i < it.numbers.size() ? it.numbers[i] : fallback;
}
inline void at_most(const std::string& option, std::string_view text, const Item& it, std::size_t n) {
  if (it.numbers.size() > n)
    fail(option, text, "'" + it.name + "' takes at most " + std::to_string(n) + " numbers");
}
inline int whole(const std::string& option, std::string_view text, double v, int lo) {
  if (v != static_cast<int>(v) || v < lo)
    fail(option, text, std::to_string(v) + " must be a whole number >= " + std::to_string(lo));
  return static_cast<int>(v);
}
}  // namespace detail

// The training augmentation for images preprocessed with `pre` (black = offset, white =
// 255 * scale + offset: padding and erasing values are in those units).
inline data::augment::Pipeline parse_augment(std::string_view text, const data::Preprocess& pre) {
  namespace aug = data::augment;
  const std::string option = "augmentation";
  aug::Pipeline p;
  if (text.empty() || text == "none") return p;
  const float black = pre.offset, white = 255.f * pre.scale + pre.offset;
  for (const auto& step : detail::split(text, ',')) {
    const detail::Item it = detail::item(option, step, '=');
    if (it.name == "crop") {
      detail::at_most(option, text, it, 2);
      if (it.numbers.empty()) detail::fail(option, text, "crop needs a size (crop=44 or crop=44:4)");
      const int size = detail::whole(option, text, it.numbers[0], 1);
      p.then(aug::RandomCrop{size, size, detail::whole(option, text, detail::arg(it, 1, 0), 0), black});
    } else if (it.name == "flip") {
      detail::at_most(option, text, it, 1);
      p.then(aug::HorizontalFlip{static_cast<float>(detail::arg(it, 0, 0.5))});
    } else if (it.name == "affine") {
      detail::at_most(option, text, it, 3);
      if (it.numbers.empty()) detail::fail(option, text, "affine needs degrees (affine=10:0.05:0.1)");
      const float scale = static_cast<float>(detail::arg(it, 2, 0));
      p.then(aug::Affine{.degrees = static_cast<float>(it.numbers[0]),
                         .translate = static_cast<float>(detail::arg(it, 1, 0)),
                         .scale_min = 1.f - scale,
                         .scale_max = 1.f + scale,
                         .border = aug::Border::replicate});
    } else if (it.name == "erasing") {
      detail::at_most(option, text, it, 1);
      p.then(aug::RandomErasing{.p = static_cast<float>(detail::arg(it, 0, 0.5)), .value = (black + white) / 2});
    } else if (it.name == "jitter") {
      detail::at_most(option, text, it, 2);
      if (it.numbers.empty()) detail::fail(option, text, "jitter needs a brightness (jitter=0.2:0.2)");
      p.then(aug::BrightnessContrast{static_cast<float>(it.numbers[0]), static_cast<float>(detail::arg(it, 1, 0)),
                                     black, white});
    } else {
      detail::fail(option, text, "unknown step '" + it.name + "' (crop, flip, affine, erasing or jitter)");
    }
  }
  return p;
}

// The schedule for a run of `epochs` epochs of `batches` batches at base learning rate lr;
// nullopt for "constant" or "" (the optimiser keeps its lr, as without a schedule).
inline std::optional<LrSchedule> parse_schedule(std::string_view text, double lr, int epochs, int batches) {
  const std::string option = "schedule";
  if (text.empty() || text == "constant") return std::nullopt;
  const detail::Item it = detail::item(option, text, ':');
  try {
    if (it.name == "cosine") {
      detail::at_most(option, text, it, 1);
      const long warmup = detail::whole(option, text, detail::arg(it, 0, 0), 0);
      if (warmup >= epochs)
        detail::fail(option, text, "the warm-up (" + std::to_string(warmup) + " epochs) must be shorter than the run (" +
                                       std::to_string(epochs) + ")");
      return LrSchedule(WarmupCosineLR{.base_lr = lr, .warmup = warmup, .t_max = epochs - warmup});
    }
    if (it.name == "step") {
      detail::at_most(option, text, it, 2);
      if (it.numbers.empty()) detail::fail(option, text, "step needs a step size in epochs (step:30 or step:30:0.1)");
      return LrSchedule(StepLR{.base_lr = lr,
                               .step_size = detail::whole(option, text, it.numbers[0], 1),
                               .gamma = detail::arg(it, 1, 0.1)});
    }
    if (it.name == "onecycle") {
      detail::at_most(option, text, it, 0);
      return LrSchedule(OneCycleLR{.max_lr = lr, .total_steps = static_cast<long>(epochs) * batches});
    }
    if (it.name == "plateau") {
      detail::at_most(option, text, it, 2);
      ReduceLROnPlateau::Options o;
      o.base_lr = lr;
      o.mode = ReduceLROnPlateau::Mode::max;
      o.patience = detail::whole(option, text, detail::arg(it, 0, 10), 0);
      o.factor = detail::arg(it, 1, 0.1);
      return LrSchedule(ReduceLROnPlateau(o));
    }
  } catch (const fernet::detail::ScheduleError& e) { detail::fail(option, text, e.what()); }
  detail::fail(option, text, "unknown schedule '" + it.name + "' (constant, cosine, step, onecycle or plateau)");
}

// Test-time augmentation; nullopt for "none" or "".
inline std::optional<tta::Options> parse_tta(std::string_view text) {
  const std::string option = "tta";
  if (text.empty() || text == "none") return std::nullopt;
  const detail::Item it = detail::item(option, text, ':');
  detail::at_most(option, text, it, 1);
  if (it.numbers.empty()) detail::fail(option, text, "needs the crop size (e.g. ten-crop:44)");
  tta::Options o;
  o.crop_height = o.crop_width = detail::whole(option, text, it.numbers[0], 1);
  if (it.name == "center") o.views = tta::Views::center;
  else if (it.name == "mirrored") o.views = tta::Views::mirrored;
  else if (it.name == "ten-crop") o.views = tta::Views::ten_crop;
  else detail::fail(option, text, "unknown views '" + it.name + "' (none, center, mirrored or ten-crop)");
  return o;
}

}  // namespace fernet::options_text
