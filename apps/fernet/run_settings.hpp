#pragma once
// A training run's settings as they are stored in DIR/run.json, so that
// `fernet train --resume DIR` needs no other flag, and the checks every run's settings pass.
#include <cstddef>
#include <cstdint>
#include <string>
#include <string_view>

#include <nlohmann/json.hpp>


namespace fernet::app {

// What a run needs to know; stored in DIR/run.json so that --resume needs no other flags.
struct RunSettings {
  std::string model;
  int epochs = 0, batch = 0, threads = 0;
  double lr = 0;
  std::uint64_t seed = 0;
  std::string data;  // absolute path, or empty for the built-in synthetic set
  std::string eval_split = "PublicTest";
  std::string init;            // optional checkpoint the weights start from
  std::string device = "cpu";  // cpu, cuda, cuda:N or emulated (device/select.hpp)
  // Accuracy options, train/options_text.hpp's text forms (the model's recipe unless flags say).
  bool normalize = false;  // zero-centred inputs ((pixel - 127.5) / 63.75) instead of the model's
  bool equalize = false;    // histogram-equalise each image first (a preprocessing step eval and predict repeat)
  std::string augment, schedule, tta;
  double label_smoothing = 0, clip_grad_norm = 0;
  double mixup = 0;  // mixup's alpha (0: off)
  double ema = 0;    // weight averaging's decay (0: off)
  // When > 0, epochs is the most the run may train: the count is fitted to this many minutes
  // after the first epoch (train/time_budget.hpp) and kept in the checkpoints.
  double time_budget_minutes = 0;
};


nlohmann::ordered_json settings_json(const RunSettings& s);
RunSettings settings_from_json(const nlohmann::ordered_json& j);  // throws nlohmann's errors

// DIR/run.json as read by --resume: the settings, the command line and start time it records.
struct RunFile {
  RunSettings settings;
  std::string command_line, started;  // empty when absent
  nlohmann::ordered_json document;    // the whole file, rewritten when --epochs/--threads change
};
inline constexpr std::size_t max_run_file_bytes = std::size_t{1} << 20;  // a real one is under 1 KiB
// std::runtime_error "cannot resume: <source> is not a valid run file: <why>" for any defect.
RunFile parse_run_file(std::string_view text, const std::string& source);
RunFile read_run_file(const std::string& path);  // a regular file of at most max_run_file_bytes
// UsageError naming the flag; the model name is checked by validate (models.hpp), which needs
// the registry.
void validate_values(const RunSettings& s);
}  // namespace fernet::app
