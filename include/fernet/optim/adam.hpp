#pragma once
// Adam as torch.optim.Adam (weight decay added to the gradient) and, with decoupled = true,
// AdamW (weights shrunk by lr * weight_decay before the update). Bias corrections advance
// once per step().
#include <cmath>
#include <span>
#include <stdexcept>

#include "../kernels/element_rules.hpp"
#include "../kernels/updates.hpp"
#include "../tensor.hpp"

namespace fernet {

class Adam {
 public:
  struct Options {
    float lr = 1e-3f;
    float beta1 = 0.9f;
    float beta2 = 0.999f;
    float eps = 1e-8f;
    float weight_decay = 0.f;
    bool decoupled = false;  // AdamW
  };

  Adam(std::span<float> params, std::span<const float> grads, Options o)
      : p_(params), g_(grads), o_(o), m_(params.size(), 0.f), v_(params.size(), 0.f) {
    if (params.size() != grads.size())
      throw std::invalid_argument("fernet: Adam parameter and gradient blocks differ in size");
    if (!(o.lr >= 0.f)) throw std::invalid_argument("fernet: Adam learning rate must be >= 0");
    if (!(o.beta1 >= 0.f && o.beta1 < 1.f && o.beta2 >= 0.f && o.beta2 < 1.f))
      throw std::invalid_argument("fernet: Adam betas must be in [0, 1)");
  }
  template <class Model>
  Adam(Model& m, Options o) : Adam(m.parameters(), m.gradients(), o) {}

  // Advances the step count and returns that step's constants for the per-parameter rule
  // (kernels::adam_at): bias corrections in double, the update in float. The device optimiser
  // (device/model.hpp) applies the same constants.
  kernels::AdamStep next_step_rule() {
    ++steps_;
    const double bc1 = 1.0 - std::pow(static_cast<double>(o_.beta1), steps_);
    const double bc2 = 1.0 - std::pow(static_cast<double>(o_.beta2), steps_);
    return {static_cast<float>(o_.lr / bc1),
            static_cast<float>(1.0 / std::sqrt(bc2)),
            o_.beta1,
            o_.beta2,
            o_.eps,
            o_.decoupled ? 0.f : o_.weight_decay,
            o_.decoupled ? 1.f - o_.lr * o_.weight_decay : 1.f};
  }

  void step() {
    const kernels::AdamStep rule = next_step_rule();
    kernels::adam_update(p_.data(), g_.data(), m_.data(), v_.data(), static_cast<std::ptrdiff_t>(p_.size()), rule);
  }

  float lr() const { return o_.lr; }
  void set_lr(float lr) { o_.lr = lr; }
  const Options& options() const { return o_; }
  long steps() const { return steps_; }
  void set_steps(long s) { steps_ = s; }
  // Optimiser state (first and second moments) for checkpoints.
  std::span<float> first_moment() { return m_; }
  std::span<float> second_moment() { return v_; }

 private:
  std::span<float> p_;
  std::span<const float> g_;
  Options o_;
  AlignedFloats m_, v_;
  long steps_ = 0;
};

}  // namespace fernet
