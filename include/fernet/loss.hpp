#pragma once
// Losses, mean over the batch, each computing its gradient in the same pass.
//   NLLLoss:          input = log-probabilities (after LogSoftmax), as torch.nn.NLLLoss
//   CrossEntropyLoss: input = raw scores; log-softmax and NLL fused (torch.nn.CrossEntropyLoss)
#include <cmath>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "kernels/element_rules.hpp"

namespace fernet {

namespace detail {
inline void check_label(int label, int classes, int row) {
  if (label < 0 || label >= classes)
    throw std::out_of_range("fernet: label " + std::to_string(label) + " of sample " + std::to_string(row) +
                            " is outside 0.." + std::to_string(classes - 1));
}
}  // namespace detail

namespace detail {
// Both losses over rows with the per-row rule the device backends use as well.
inline float row_loss(const float* out, const int* labels, int n, int classes, bool log_probs, float* grad) {
  double loss = 0.0;
  std::vector<float> scratch(grad ? 0 : classes);
  for (int i = 0; i < n; ++i) {
    check_label(labels[i], classes, i);
    float* g = grad ? grad + static_cast<std::ptrdiff_t>(i) * classes : scratch.data();
    loss += kernels::loss_row(out + static_cast<std::ptrdiff_t>(i) * classes, labels[i], classes, n, log_probs, g);
  }
  return static_cast<float>(loss / n);
}
}  // namespace detail

struct NLLLoss {
  // Returns the mean loss; writes d(loss)/d(input) to grad (n x classes) when not null.
  static float compute(const float* logp, const int* labels, int n, int classes, float* grad = nullptr) {
    return detail::row_loss(logp, labels, n, classes, true, grad);
  }
};

struct CrossEntropyLoss {
  static float compute(const float* logits, const int* labels, int n, int classes, float* grad = nullptr) {
    return detail::row_loss(logits, labels, n, classes, false, grad);
  }
};

// What one training step reports (CPU network and device model alike).
struct StepResult {
  double loss_sum = 0;  // summed over the batch (mean = loss_sum / n)
  long correct = 0;     // predictions equal to the label
};

// Which input a loss takes: log-probabilities (NLLLoss) or raw scores (CrossEntropyLoss).
template <class Loss>
inline constexpr bool takes_log_probs = std::is_same_v<Loss, NLLLoss>;

// Index of the largest score of each row (the first on ties): the predicted class.
inline int argmax_row(const float* row, int classes) { return kernels::argmax_of_row(row, classes); }

}  // namespace fernet
