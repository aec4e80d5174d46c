#include <cmath>
#include <cstdio>
#include <optional>
#include <stdexcept>

#include <fernet/train/options_text.hpp>
#include <fernet/train/time_budget.hpp>

#include "models.hpp"

#include "cli_common.hpp"

namespace fernet::app {

const std::vector<ModelInfo>& models() {
  static const std::vector<ModelInfo> all = {make_linear_mlp(), make_cnn_adam(),  make_cnn_sgd(),
                                             make_tf_cnn(),     make_resnet18(),  make_resnet50(),
                                             make_resnet152(),  make_vgg_fast(),  make_vgg_best()};
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
  const ModelInfo* m = find_model(s.model);
  if (!m) throw UsageError("unknown model '" + s.model + "'; choose one of: " + model_names());
  if (!(s.label_smoothing >= 0 && s.label_smoothing < 1))
    throw UsageError("--label-smoothing must be in [0, 1) (got " + std::to_string(s.label_smoothing) + ")");
  if (!(s.clip_grad_norm >= 0) || !std::isfinite(s.clip_grad_norm))
    throw UsageError("--clip-grad-norm must be 0 (off) or positive (got " + std::to_string(s.clip_grad_norm) + ")");
  if (!(s.mixup >= 0) || !std::isfinite(s.mixup))
    throw UsageError("--mixup must be 0 (off) or a positive alpha (got " + std::to_string(s.mixup) + ")");
  if (!(s.ema >= 0 && s.ema < 1))
    throw UsageError("--ema must be 0 (off) or a decay in (0, 1) (got " + std::to_string(s.ema) + ")");
  if ((s.mixup > 0 || s.ema > 0) && s.device != "cpu")
    throw UsageError(std::string(s.mixup > 0 ? "--mixup" : "--ema") +
                     " runs on the CPU only; it is not implemented for --device " + s.device);
  if (s.clip_grad_norm > 0 && s.device != "cpu")
    throw UsageError("--clip-grad-norm runs on the CPU only; it is not implemented for --device " + s.device);
  // The texts parse now, so that a typo fails before any data is loaded.
  try {
    options_text::parse_augment(s.augment, run_preprocess(s, *m));
  } catch (const std::invalid_argument& e) { throw UsageError(std::string("--augment: ") + e.what()); }
  std::optional<LrSchedule> schedule;
  try {
    schedule = options_text::parse_schedule(s.schedule, s.lr, s.epochs, 1);
  } catch (const std::invalid_argument& e) { throw UsageError(std::string("--schedule: ") + e.what()); }
  if (schedule)
    if (const std::string problem = time_budget_schedule_problem(s.time_budget_minutes > 0, *schedule); !problem.empty())
      throw UsageError("--time-budget with --schedule: " + problem + " (--time-budget 0 with --epochs)");
  try {
    options_text::parse_tta(s.tta);
  } catch (const std::invalid_argument& e) { throw UsageError(std::string("--tta: ") + e.what()); }
}

data::Preprocess run_preprocess(const RunSettings& s, const ModelInfo& m) {
  data::Preprocess p = m.preprocess;
  if (s.normalize) {
    p = data::preprocess::centered;
    p.channels = m.preprocess.channels;
  }
  p.equalize = s.equalize;
  return p;
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
  p.equalize = fernet::detail::checkpoint_integer(c, "preprocess.equalize", 0, 0, 1, source) == 1;
  return p;
}

void store_preprocess(std::map<std::string, std::string>& meta, const data::Preprocess& p) {
  char buf[64];
  std::snprintf(buf, sizeof buf, "%.9g", p.scale);
  meta["preprocess.scale"] = buf;
  std::snprintf(buf, sizeof buf, "%.9g", p.offset);
  meta["preprocess.offset"] = buf;
  meta["preprocess.channels"] = std::to_string(p.channels);
  meta["preprocess.equalize"] = p.equalize ? "1" : "0";
}

}  // namespace fernet::app
