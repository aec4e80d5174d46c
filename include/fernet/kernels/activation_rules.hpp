#pragma once
// Element-wise activations as rules: forward(x) and backward(x, y, dy) for ONE element, plain
// C so that the CPU loop, the host backend and a CUDA kernel all run the same function. A rule
// is a small struct (its fields are the activation's parameters, e.g. a slope) and is listed in
// activation_rule_list below, which is how the compiled device backends know every rule: a new
// activation is its rule here plus its layer alias (layers/activation.hpp).
#include <math.h>

#include "../host_device.hpp"

namespace fernet::kernels {

// max(x, slope * x) for slope in [0, 1): torch.nn.LeakyReLU(slope).
struct LeakyReluRule {
  float slope;
  FERNET_HD float forward(float x) const { return x > 0.f ? x : slope * x; }
  FERNET_HD float backward(float x, float, float dy) const { return x > 0.f ? dy : slope * dy; }
};

template <class... Rules>
struct rule_list {
  static constexpr int size = sizeof...(Rules);
};
// Every rule a device backend can run; the device operations dispatch on the index in this list.
using activation_rule_list = rule_list<LeakyReluRule>;

template <class Rule, class List>
inline constexpr int index_in = -1;
template <class Rule, class First, class... Rest>
inline constexpr int index_in<Rule, rule_list<First, Rest...>> =
    __is_same(Rule, First) ? 0 : (index_in<Rule, rule_list<Rest...>> < 0 ? -1 : 1 + index_in<Rule, rule_list<Rest...>>);
template <class Rule>
inline constexpr int rule_index = [] {
  constexpr int i = index_in<Rule, activation_rule_list>;
  static_assert(i >= 0,
                "fernet: this activation rule is not in kernels::activation_rule_list, so no device backend runs it");
  return i;
}();

}  // namespace fernet::kernels
