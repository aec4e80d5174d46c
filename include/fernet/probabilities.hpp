#pragma once
// Class probabilities from a network's outputs. A network that ends in LogSoftmax gives
// log-probabilities (exp turns them back); any other gives raw scores (logits), which softmax
// turns into probabilities. The predicted class is argmax_row (loss.hpp) of either.
#include <algorithm>
#include <cmath>
#include <type_traits>
#include <utility>

#include "layers/log_softmax.hpp"
#include "sequential.hpp"

namespace fernet {

template <class Net>
struct outputs_log_probabilities : std::false_type {};
template <class InputSpec, class... Layers>
struct outputs_log_probabilities<Sequential<InputSpec, Layers...>>
    : std::is_same<typename decltype((std::type_identity<Layers>{}, ...))::type, LogSoftmax> {};
template <class Net>
inline constexpr bool outputs_log_probabilities_v = outputs_log_probabilities<Net>::value;

// Softmax of each of n rows of `classes` logits, into out (n x classes); in double, so that
// the probabilities of a row add up to 1 within float rounding.
inline void softmax_rows(const float* logits, int n, int classes, float* out) {
  for (int i = 0; i < n; ++i) {
    const float* row = logits + static_cast<std::ptrdiff_t>(i) * classes;
    float* p = out + static_cast<std::ptrdiff_t>(i) * classes;
    const double largest = *std::max_element(row, row + classes);  // exp of at most 0: no overflow
    double sum = 0;
    for (int j = 0; j < classes; ++j) sum += std::exp(row[j] - largest);
    for (int j = 0; j < classes; ++j) p[j] = static_cast<float>(std::exp(row[j] - largest) / sum);
  }
}

// Probabilities of n samples from Net's outputs (n x Net::output_shape::size values) into out.
template <class Net>
void probabilities(const float* outputs, int n, float* out) {
  constexpr int k = static_cast<int>(Net::output_shape::size);
  if constexpr (outputs_log_probabilities_v<Net>) {
    std::transform(outputs, outputs + static_cast<std::ptrdiff_t>(n) * k, out, [](float v) { return std::exp(v); });
  } else {
    softmax_rows(outputs, n, k, out);
  }
}

}  // namespace fernet
