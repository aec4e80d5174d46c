#include "run_settings.hpp"

#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <limits>
#include <memory>
#include <sstream>
#include <sys/stat.h>

#include <fernet/read_file.hpp>
#include <fernet/train/time_budget.hpp>
#include <fernet/train/options_text.hpp>

#include "cli_common.hpp"

namespace fernet::app {

using json = nlohmann::ordered_json;

json settings_json(const RunSettings& s) {
  return {{"model", s.model},
          {"epochs", s.epochs},
          {"time_budget_minutes", s.time_budget_minutes},
          {"batch", s.batch},
          {"lr", s.lr},
          {"seed", s.seed},
          {"threads", s.threads},
          {"data", s.data.empty() ? json(nullptr) : json(s.data)},
          {"eval_split", s.eval_split},
          {"init", s.init.empty() ? json(nullptr) : json(s.init)},
          {"device", s.device},
          {"normalize", s.normalize},
          {"augment", s.augment},
          {"schedule", s.schedule},
          {"label_smoothing", s.label_smoothing},
          {"tta", s.tta},
          {"clip_grad_norm", s.clip_grad_norm},
          {"equalize", s.equalize},
          {"mixup", s.mixup},
          {"ema", s.ema}};
}

namespace {

// A whole number stored in run.json, in [lo, hi]; a fraction, string or out-of-range value is
// refused here rather than converted (a JSON 1e300 read as int is undefined behaviour).
template <class Int>
Int integer_field(const json& j, const char* key, Int lo, Int hi) {
  const json& v = j.at(key);
  const bool fits = v.is_number_unsigned()
                        ? v.get<std::uint64_t>() <= static_cast<std::uint64_t>(hi)
                        : v.is_number_integer() && v.get<std::int64_t>() >= static_cast<std::int64_t>(lo) &&
                              (hi > static_cast<Int>(std::numeric_limits<std::int64_t>::max()) ||
                               v.get<std::int64_t>() <= static_cast<std::int64_t>(hi));
  if (!fits)
    throw json::other_error::create(501, std::string("'") + key + "' must be a whole number from " +
                                             std::to_string(lo) + " to " + std::to_string(hi) + ", not " + v.dump(),
                                    &v);
  return v.get<Int>();
}

constexpr int int_max = std::numeric_limits<int>::max();

}  // namespace

RunSettings settings_from_json(const json& j) {
  RunSettings s;
  s.model = j.at("model").get<std::string>();
  s.epochs = integer_field<int>(j, "epochs", 0, int_max);
  s.batch = integer_field<int>(j, "batch", 0, int_max);
  s.lr = j.at("lr").get<double>();
  s.seed = integer_field<std::uint64_t>(j, "seed", 0, std::numeric_limits<std::uint64_t>::max());
  s.threads = j.contains("threads") ? integer_field<int>(j, "threads", 0, int_max) : 0;
  s.data = j.at("data").is_null() ? std::string() : j.at("data").get<std::string>();
  s.eval_split = j.value("eval_split", std::string("PublicTest"));
  s.init = j.contains("init") && !j.at("init").is_null() ? j.at("init").get<std::string>() : std::string();
  s.device = j.value("device", std::string("cpu"));
  // Absent in runs written before these options existed: none of them.
  s.normalize = j.value("normalize", false);
  s.augment = j.value("augment", std::string());
  s.schedule = j.value("schedule", std::string());
  s.label_smoothing = j.value("label_smoothing", 0.0);
  s.tta = j.value("tta", std::string());
  s.clip_grad_norm = j.value("clip_grad_norm", 0.0);
  s.equalize = j.value("equalize", false);
  s.mixup = j.value("mixup", 0.0);
  s.ema = j.value("ema", 0.0);
  s.time_budget_minutes = j.value("time_budget_minutes", 0.0);
  return s;
}

RunFile parse_run_file(std::string_view text, const std::string& source) {
  try {
    const json j = json::parse(text);
    RunFile r;
    r.settings = settings_from_json(j.at("settings"));
    r.command_line = j.value("command_line", std::string());
    r.started = j.value("started", std::string());
    r.document = j;
    return r;
  } catch (const json::exception& e) {
    throw std::runtime_error("cannot resume: " + source + " is not a valid run file: " + e.what());
  }
}

RunFile read_run_file(const std::string& path) {
  std::string text;
  try {
    text = read_regular_file(path, max_run_file_bytes, "a run file");
  } catch (const FileReadError& e) { throw std::runtime_error(std::string("cannot resume: ") + e.what()); }
  return parse_run_file(text, path);
}

void validate_values(const RunSettings& s) {
  if (s.epochs < 1) throw UsageError("--epochs must be at least 1 (got " + std::to_string(s.epochs) + ")");
  if (s.batch < 1) throw UsageError("--batch must be at least 1 (got " + std::to_string(s.batch) + ")");
  if (!(s.lr > 0) || !std::isfinite(s.lr)) {
    std::ostringstream v;
    v << s.lr;
    throw UsageError("--lr must be a positive number (got " + v.str() + ")");
  }
  if (const std::string problem = time_budget_problem(s.time_budget_minutes, "minutes"); !problem.empty())
    throw UsageError("--time-budget: " + problem);
  if (s.threads < 0) throw UsageError("--threads must be at least 1 (got " + std::to_string(s.threads) + ")");
}

}  // namespace fernet::app
