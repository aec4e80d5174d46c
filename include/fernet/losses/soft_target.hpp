#pragma once
// Cross-entropy against soft targets (a probability row per sample: mixup's blended labels,
// smoothed labels): loss = mean over rows of -sum_j t_j * log p_j, as PyTorch's
// CrossEntropyLoss with class-probability targets. The input is raw scores (log-softmax fused,
// gradient (p - t) / n) or, with log_probs, log-probabilities from a LogSoftmax layer
// (gradient -t / n). Targets need not sum to 1; the gradients above assume they do.
// The row rule is kernels::soft_target_row, the one label smoothing uses too.
#include <stdexcept>
#include <string>

#include "../kernels/element_rules.hpp"

namespace fernet {

namespace losses {
// The target row of a label under label smoothing eps: (1 - eps) * one-hot + eps / k.
inline void smoothed_target_row(int label, int k, float eps, float* t) {
  for (int j = 0; j < k; ++j) t[j] = static_cast<float>(kernels::smoothed_target(j, label, k, eps));
}
}  // namespace losses

// Mean soft-target cross-entropy over n rows of `classes` scores; gradient to grad (n x classes)
// when not null.
inline float soft_target_cross_entropy(const float* scores, const float* targets, int n, int classes,
                                       float* grad = nullptr, bool log_probs = false) {
  if (n <= 0 || classes <= 0)
    throw std::invalid_argument("fernet::soft_target_cross_entropy: needs at least one row and one class (got " +
                                std::to_string(n) + " x " + std::to_string(classes) + ")");
  double loss = 0.0;
  for (int i = 0; i < n; ++i) {
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(i) * classes;
    loss += kernels::soft_target_row(scores + at, targets + at, -1, 0.f, classes, n, log_probs, grad ? grad + at : nullptr);
  }
  return static_cast<float>(loss / n);
}

// As a loss type with soft targets (scores are raw; SoftTargetNLLLoss takes log-probabilities).
struct SoftTargetCrossEntropyLoss {
  static float compute(const float* scores, const float* targets, int n, int classes, float* grad = nullptr) {
    return soft_target_cross_entropy(scores, targets, n, classes, grad, false);
  }
};
struct SoftTargetNLLLoss {
  static float compute(const float* logp, const float* targets, int n, int classes, float* grad = nullptr) {
    return soft_target_cross_entropy(logp, targets, n, classes, grad, true);
  }
};

}  // namespace fernet
