#pragma once
// SGD as torch.optim.SGD: weight decay (L2, added to the gradient), momentum with dampening,
// Nesterov. The update runs over the model's single parameter block.
#include <span>
#include <stdexcept>
#include <vector>

#include "../kernels/element_rules.hpp"
#include "../kernels/updates.hpp"
#include "../tensor.hpp"

namespace fernet {

class SGD {
 public:
  struct Options {
    float lr = 0.01f;
    float momentum = 0.f;
    float dampening = 0.f;
    float weight_decay = 0.f;
    bool nesterov = false;
  };

  SGD(std::span<float> params, std::span<const float> grads, Options o) : p_(params), g_(grads), o_(o) {
    if (params.size() != grads.size())
      throw std::invalid_argument("fernet: SGD parameter and gradient blocks differ in size");
    if (!(o.lr >= 0.f)) throw std::invalid_argument("fernet: SGD learning rate must be >= 0");
    if (o.nesterov && (o.momentum <= 0.f || o.dampening != 0.f))
      throw std::invalid_argument("fernet: Nesterov momentum needs momentum > 0 and dampening 0");
    if (o.momentum != 0.f) buf_.assign(params.size(), 0.f);
  }
  template <class Model>
  SGD(Model& m, Options o) : SGD(m.parameters(), m.gradients(), o) {}

  // The constants of the next step's per-parameter rule (kernels::sgd_at), which the device
  // optimiser (device/model.hpp) applies as well.
  kernels::SgdStep step_rule() const {
    return {o_.lr, o_.momentum, 1.f - o_.dampening, o_.weight_decay, steps_ == 0, o_.nesterov};
  }

  void step() {
    kernels::sgd_update(p_.data(), g_.data(), buf_.data(), static_cast<std::ptrdiff_t>(p_.size()), step_rule());
    ++steps_;
  }

  float lr() const { return o_.lr; }
  void set_lr(float lr) { o_.lr = lr; }
  const Options& options() const { return o_; }
  long steps() const { return steps_; }
  // Optimiser state (the momentum buffer) for checkpoints.
  std::span<float> state() { return buf_; }
  void set_steps(long s) { steps_ = s; }

 private:
  std::span<float> p_;
  std::span<const float> g_;
  Options o_;
  AlignedFloats buf_;
  long steps_ = 0;
};

}  // namespace fernet
