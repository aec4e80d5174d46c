#pragma once
// Regularisation around the optimiser step:
//   clip_grad_norm  scales the gradient block so that its global L2 norm is at most max_norm, as
//                   torch.nn.utils.clip_grad_norm_ (coefficient max_norm / (norm + 1e-6),
//                   applied when below 1); returns the norm before clipping
//   WeightAverage   exponential moving average of the parameters (and, by default, the buffers,
//                   e.g. batch-norm running statistics, as timm's ModelEma), for evaluating with
//                   the averaged weights; its state goes into checkpoints
#include <algorithm>
#include <cmath>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../checkpoint.hpp"

namespace fernet {

// Norm in double, so that it does not depend on the summation order of float partial sums.
inline float clip_grad_norm(std::span<float> grads, float max_norm) {
  if (!(max_norm > 0.f))
    throw std::invalid_argument("fernet::clip_grad_norm: max_norm must be positive, got " + std::to_string(max_norm));
  double sum = 0.0;
  for (float g : grads) sum += static_cast<double>(g) * g;
  const float norm = static_cast<float>(std::sqrt(sum));
  const float coef = max_norm / (norm + 1e-6f);
  if (coef < 1.f)
    for (float& g : grads) g *= coef;
  return norm;
}

class WeightAverage {
 public:
  struct Options {
    float decay = 0.999f;
    // Decay min(decay, (1 + updates) / (10 + updates)): early averages forget the random start
    // faster (timm's ModelEma warm-up, TensorFlow's num_updates).
    bool warmup = false;
    bool average_buffers = true;  // false: buffers are copied, not averaged
  };

  WeightAverage(std::span<const float> params, std::span<const float> buffers, Options o)
      : o_(o), params_(params.begin(), params.end()), buffers_(buffers.begin(), buffers.end()) {
    if (!(o.decay >= 0.f && o.decay < 1.f))
      throw std::invalid_argument("fernet::WeightAverage: decay must be in [0, 1), got " + std::to_string(o.decay));
  }
  template <class Model>
  WeightAverage(const Model& m, Options o) : WeightAverage(m.parameters(), m.buffers(), o) {}

  float current_decay() const {
    if (!o_.warmup) return o_.decay;
    const float d = (1.f + static_cast<float>(updates_)) / (10.f + static_cast<float>(updates_));
    return std::min(o_.decay, d);
  }

  // After each optimiser step: average += (1 - decay) * (value - average).
  void update(std::span<const float> params, std::span<const float> buffers) {
    check("update", params.size(), buffers.size());
    const float d = current_decay(), keep = 1.f - d;
    for (std::size_t i = 0; i < params_.size(); ++i) params_[i] += keep * (params[i] - params_[i]);
    if (o_.average_buffers)
      for (std::size_t i = 0; i < buffers_.size(); ++i) buffers_[i] += keep * (buffers[i] - buffers_[i]);
    else std::copy(buffers.begin(), buffers.end(), buffers_.begin());
    ++updates_;
  }
  template <class Model>
  void update(const Model& m) {
    update(m.parameters(), m.buffers());
  }

  // Writes the averages into a model's blocks (e.g. a copy of the network kept for evaluation).
  void copy_to(std::span<float> params, std::span<float> buffers) const {
    check("copy_to", params.size(), buffers.size());
    std::copy(params_.begin(), params_.end(), params.begin());
    std::copy(buffers_.begin(), buffers_.end(), buffers.begin());
  }
  template <class Model>
  void copy_to(Model& m) const {
    copy_to(m.parameters(), m.buffers());
  }

  std::span<const float> parameters() const { return params_; }
  std::span<const float> buffers() const { return buffers_; }
  long updates() const { return updates_; }
  // For a trainer that keeps the averages as a checkpoint's weights (train/trainer.hpp) and
  // restores them through the constructor: how many updates they hold (warm-up depends on it).
  void set_updates(long n) {
    if (n < 0) throw std::invalid_argument("fernet::WeightAverage::set_updates: " + std::to_string(n) + " < 0");
    updates_ = n;
  }
  const Options& options() const { return o_; }

  // Checkpoint state: sections "ema.parameters", "ema.buffers" and meta "ema_updates".
  void save(Checkpoint& c) const {
    c.set_section("ema.parameters", params_);
    c.set_section("ema.buffers", buffers_);
    c.meta["ema_updates"] = std::to_string(updates_);
  }
  void restore(const Checkpoint& c, const std::string& source) {
    c.copy_section("ema.parameters", params_, source);
    c.copy_section("ema.buffers", buffers_, source);
    if (c.get("ema_updates").empty()) throw CheckpointError(source + ": checkpoint has no 'ema_updates' entry");
    updates_ = static_cast<long>(detail::checkpoint_integer(c, "ema_updates", 0, 0, 1ll << 50, source));
  }

 private:
  void check(const char* who, std::size_t p, std::size_t b) const {
    if (p != params_.size() || b != buffers_.size())
      throw std::invalid_argument(std::string("fernet::WeightAverage::") + who + ": model has " + std::to_string(p) +
                                  " parameters and " + std::to_string(b) + " buffers, the average " +
                                  std::to_string(params_.size()) + " and " + std::to_string(buffers_.size()));
  }

  Options o_;
  std::vector<float> params_, buffers_;
  long updates_ = 0;
};

}  // namespace fernet
