#pragma once
// Adam as torch.optim.Adam (weight decay added to the gradient) and, with decoupled = true,
// AdamW (weights shrunk by lr * weight_decay before the update). Bias corrections advance
// once per step().
#include <cmath>
#include <span>
#include <stdexcept>

#include "../kernels/element_rules.hpp"
#include "../kernels/elementwise.hpp"
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
    const float step_size = rule.step_size, inv_sqrt_bc2 = rule.inv_sqrt_bc2;
    const float b1 = rule.beta1, b2 = rule.beta2, eps = rule.eps, l2 = rule.l2, shrink = rule.shrink;
    float* p = p_.data();
    const float* g = g_.data();
    float* m = m_.data();
    float* v = v_.data();
    kernels::detail::simd_loop(
        static_cast<std::ptrdiff_t>(p_.size()),
        [&](std::ptrdiff_t i) {
          simd_batch pv = simd_batch::load_unaligned(p + i) * simd_batch(shrink);
          const simd_batch d = xsimd::fma(simd_batch(l2), pv, simd_batch::load_unaligned(g + i));
          const simd_batch mv = xsimd::fma(simd_batch(b1), simd_batch::load_unaligned(m + i), simd_batch(1.f - b1) * d);
          const simd_batch vv =
              xsimd::fma(simd_batch(b2), simd_batch::load_unaligned(v + i), simd_batch(1.f - b2) * d * d);
          mv.store_unaligned(m + i);
          vv.store_unaligned(v + i);
          const simd_batch denom = xsimd::fma(xsimd::sqrt(vv), simd_batch(inv_sqrt_bc2), simd_batch(eps));
          xsimd::fnma(simd_batch(step_size), mv / denom, pv).store_unaligned(p + i);
        },
        [&](std::ptrdiff_t i) { kernels::adam_at(p, g, m, v, i, rule); });
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
