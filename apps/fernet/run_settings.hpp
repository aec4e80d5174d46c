#pragma once
// A training run's settings (models.hpp: RunSettings) as they are stored in DIR/run.json, so that
// `fernet train --resume DIR` needs no other flag, and the checks every run's settings pass.
#include <nlohmann/json.hpp>

#include "models.hpp"

namespace fernet::app {

nlohmann::ordered_json settings_json(const RunSettings& s);
RunSettings settings_from_json(const nlohmann::ordered_json& j);  // throws nlohmann's errors
void validate(const RunSettings& s);                              // UsageError naming the flag
// The run's input preprocessing: the model's, or zero-centred with --normalize (same channels).
data::Preprocess run_preprocess(const RunSettings& s, const ModelInfo& m);
}  // namespace fernet::app
