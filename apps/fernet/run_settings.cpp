#include "run_settings.hpp"

#include <cmath>
#include <sstream>

#include <fernet/train/options_text.hpp>

#include "cli_common.hpp"

namespace fernet::app {

using json = nlohmann::ordered_json;

json settings_json(const RunSettings& s) {
  return {{"model", s.model},
          {"epochs", s.epochs},
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
          {"clip_grad_norm", s.clip_grad_norm}};
}

RunSettings settings_from_json(const json& j) {
  RunSettings s;
  s.model = j.at("model").get<std::string>();
  s.epochs = j.at("epochs").get<int>();
  s.batch = j.at("batch").get<int>();
  s.lr = j.at("lr").get<double>();
  s.seed = j.at("seed").get<std::uint64_t>();
  s.threads = j.value("threads", 0);
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
  return s;
}

void validate(const RunSettings& s) {
  if (s.epochs < 1) throw UsageError("--epochs must be at least 1 (got " + std::to_string(s.epochs) + ")");
  if (s.batch < 1) throw UsageError("--batch must be at least 1 (got " + std::to_string(s.batch) + ")");
  if (!(s.lr > 0) || !std::isfinite(s.lr)) {
    std::ostringstream v;
    v << s.lr;
    throw UsageError("--lr must be a positive number (got " + v.str() + ")");
  }
  if (s.threads < 0) throw UsageError("--threads must be at least 1 (got " + std::to_string(s.threads) + ")");
  const ModelInfo* m = find_model(s.model);
  if (!m) throw UsageError("unknown model '" + s.model + "'; choose one of: " + model_names());
  if (!(s.label_smoothing >= 0 && s.label_smoothing < 1))
    throw UsageError("--label-smoothing must be in [0, 1) (got " + std::to_string(s.label_smoothing) + ")");
  if (!(s.clip_grad_norm >= 0) || !std::isfinite(s.clip_grad_norm))
    throw UsageError("--clip-grad-norm must be 0 (off) or positive (got " + std::to_string(s.clip_grad_norm) + ")");
  if (s.clip_grad_norm > 0 && s.device != "cpu")
    throw UsageError("--clip-grad-norm runs on the CPU only; it is not implemented for --device " + s.device);
  // The texts parse now, so that a typo fails before any data is loaded.
  try {
    options_text::parse_augment(s.augment, run_preprocess(s, *m));
  } catch (const std::invalid_argument& e) { throw UsageError(std::string("--augment: ") + e.what()); }
  try {
    options_text::parse_schedule(s.schedule, s.lr, s.epochs, 1);
  } catch (const std::invalid_argument& e) { throw UsageError(std::string("--schedule: ") + e.what()); }
  try {
    options_text::parse_tta(s.tta);
  } catch (const std::invalid_argument& e) { throw UsageError(std::string("--tta: ") + e.what()); }
}

data::Preprocess run_preprocess(const RunSettings& s, const ModelInfo& m) {
  if (!s.normalize) return m.preprocess;
  data::Preprocess p = data::preprocess::centered;
  p.channels = m.preprocess.channels;
  return p;
}

}  // namespace fernet::app
