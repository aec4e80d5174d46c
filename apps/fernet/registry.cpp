#include <cstdio>
#include <stdexcept>

#include "models.hpp"

#include "cli_common.hpp"

namespace fernet::app {

const std::vector<ModelInfo>& models() {
  static const std::vector<ModelInfo> all = {make_linear_mlp(), make_cnn_adam(), make_cnn_sgd(),  make_tf_cnn(),
                                             make_resnet18(),   make_resnet50(), make_resnet152()};
  return all;
}

const ModelInfo* find_model(const std::string& name) {
  for (const auto& m : models())
    if (m.name == name) return &m;
  return nullptr;
}

std::string model_names(const char* separator) {
  std::string s;
  for (const auto& m : models()) s += (s.empty() ? "" : separator) + m.name;
  return s;
}

const ModelInfo& model_for_checkpoint(const Checkpoint& c, const std::string& source, const std::string& wanted) {
  if (!wanted.empty()) {
    const ModelInfo* m = find_model(wanted);
    if (!m) throw std::runtime_error("unknown model '" + wanted + "'; choose one of: " + model_names());
    return *m;  // restore_checkpoint refuses another network's checkpoint, naming both
  }
  if (const ModelInfo* m = find_model(c.get("model"))) return *m;
  const std::string sig = c.get("signature");
  for (const auto& m : models())
    if (m.signature() == sig) return m;
  throw std::runtime_error(source + ": checkpoint holds network '" + c.get("model", "unnamed") + "' (" +
                           c.get("shapes", "unknown shapes") + "), which is none of the fernet program's models (" +
                           model_names() + ")");
}

void validate(const RunSettings& s) {
  validate_values(s);
  if (!find_model(s.model)) throw UsageError("unknown model '" + s.model + "'; choose one of: " + model_names());
}

// Checked at load: the channel count decides how much memory an image takes (a crafted 1 MB
// checkpoint asked for 2 GB per image), so it must be the network's own; scale and offset must
// keep 0..255 pixels finite.
data::Preprocess checkpoint_preprocess(const Checkpoint& c, const ModelInfo& m, const std::string& source) {
  const std::string scale = c.get("preprocess.scale"), offset = c.get("preprocess.offset"),
                    channels = c.get("preprocess.channels");
  if (scale.empty() && offset.empty() && channels.empty()) return m.preprocess;  // older checkpoints
  data::Preprocess p;
  p.channels = static_cast<int>(fernet::detail::checkpoint_integer(c, "preprocess.channels", -1, 1, 3, source));
  // Another network's checkpoint is refused by restore_checkpoint, with a message naming both.
  if (p.channels != m.preprocess.channels && c.get("signature") == m.signature())
    throw CheckpointError(source + ": checkpoint field 'preprocess.channels' is " + std::to_string(p.channels) +
                          " but network '" + m.name + "' takes " + std::to_string(m.preprocess.channels));
  p.scale = static_cast<float>(fernet::detail::checkpoint_real(c, "preprocess.scale", 0, -1e6, 1e6, source));
  p.offset = static_cast<float>(fernet::detail::checkpoint_real(c, "preprocess.offset", 0, -1e6, 1e6, source));
  return p;
}

void store_preprocess(std::map<std::string, std::string>& meta, const data::Preprocess& p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", p.scale);
  meta["preprocess.scale"] = buf;
  std::snprintf(buf, sizeof buf, "%.9g", p.offset);
  meta["preprocess.offset"] = buf;
  meta["preprocess.channels"] = std::to_string(p.channels);
}

}  // namespace fernet::app
