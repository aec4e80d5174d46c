#include "run_settings.hpp"

#include <cmath>
#include <sstream>

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
          {"device", s.device}};
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
  if (!find_model(s.model)) throw UsageError("unknown model '" + s.model + "'; choose one of: " + model_names());
}

}  // namespace fernet::app
