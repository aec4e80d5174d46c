#pragma once
// The optimisers' per-step loops over all parameters, vectorised (Adam's square root and
// division are most of an MLP's update time, so their vector width matters): NAME_simd for this
// translation unit's instruction set, NAME for the set chosen at run time (kernel_set.hpp). The
// scalar twin and the tails apply the per-parameter rules of element_rules.hpp, which the
// device optimisers apply too.
#include <cstddef>

#include "element_rules.hpp"
#include "elementwise.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

inline void adam_update_simd(float* p, const float* g, float* m, float* v, std::ptrdiff_t count, const AdamStep& rule) {
  const float step_size = rule.step_size, inv_sqrt_bc2 = rule.inv_sqrt_bc2;
  const float b1 = rule.beta1, b2 = rule.beta2, eps = rule.eps, l2 = rule.l2, shrink = rule.shrink;
  elementwise_detail::simd_loop(
      count,
      [&](std::ptrdiff_t i) {
        simd_batch pv = simd_batch::load_unaligned(p + i) * simd_batch(shrink);
        const simd_batch d = xsimd::fma(simd_batch(l2), pv, simd_batch::load_unaligned(g + i));
        const simd_batch mv = xsimd::fma(simd_batch(b1), simd_batch::load_unaligned(m + i), simd_batch(1.f - b1) * d);
        const simd_batch vv = xsimd::fma(simd_batch(b2), simd_batch::load_unaligned(v + i), simd_batch(1.f - b2) * d * d);
        mv.store_unaligned(m + i);
        vv.store_unaligned(v + i);
        const simd_batch denom = xsimd::fma(xsimd::sqrt(vv), simd_batch(inv_sqrt_bc2), simd_batch(eps));
        xsimd::fnma(simd_batch(step_size), mv / denom, pv).store_unaligned(p + i);
      },
      [&](std::ptrdiff_t i) { adam_at(p, g, m, v, i, rule); });
}

inline void sgd_update_simd(float* p, const float* g, float* b, std::ptrdiff_t count, const SgdStep& rule) {
  const float lr = rule.lr, mu = rule.momentum, damp = rule.damp, wd = rule.weight_decay;
  const bool first = rule.first, nesterov = rule.nesterov, has_mom = mu != 0.f;
  elementwise_detail::simd_loop(
      count,
      [&](std::ptrdiff_t i) {
        simd_batch pv = simd_batch::load_unaligned(p + i);
        simd_batch d = xsimd::fma(simd_batch(wd), pv, simd_batch::load_unaligned(g + i));
        if (has_mom) {
          simd_batch bv =
              first ? d : xsimd::fma(simd_batch(mu), simd_batch::load_unaligned(b + i), simd_batch(damp) * d);
          bv.store_unaligned(b + i);
          d = nesterov ? xsimd::fma(simd_batch(mu), bv, d) : bv;
        }
        xsimd::fnma(simd_batch(lr), d, pv).store_unaligned(p + i);
      },
      [&](std::ptrdiff_t i) { sgd_at(p, g, b, i, rule); });
}

// Adam (and AdamW) over p, g and the moments m, v with one step's constants.
inline void adam_update(float* p, const float* g, float* m, float* v, std::ptrdiff_t count, const AdamStep& rule) {
  FERNET_KERNEL(adam_update)(p, g, m, v, count, rule);
}
// SGD (momentum, dampening, Nesterov, weight decay) over p, g and the momentum buffer.
inline void sgd_update(float* p, const float* g, float* buffer, std::ptrdiff_t count, const SgdStep& rule) {
  FERNET_KERNEL(sgd_update)(p, g, buffer, count, rule);
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
