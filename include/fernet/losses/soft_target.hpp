#pragma once
// Cross-entropy against soft targets (a probability row per sample: mixup's blended labels,
// smoothed labels): loss = mean over rows of -sum_j t_j * log p_j, as PyTorch's
// CrossEntropyLoss with class-probability targets. The input is raw scores (log-softmax fused,
// gradient (p - t) / n) or, with log_probs, log-probabilities from a LogSoftmax layer
// (gradient -t / n). Targets need not sum to 1; the gradients above assume they do.
// Plain C in the row rule (math.h, FERNET_HD) so that a device backend can run it per row.
#include <math.h>

#include <stdexcept>
#include <string>

#include "../host_device.hpp"

namespace fernet {

namespace losses {
// The target row of a label under label smoothing eps: (1 - eps) * one-hot + eps / k.
FERNET_HD void smoothed_target_row(int label, int k, float eps, float* t) {
  for (int j = 0; j < k; ++j) t[j] = eps / k + (j == label ? 1.f - eps : 0.f);
}

// One row: writes its gradient (already divided by the batch size n) when grad is not null and
// returns its loss.
FERNET_HD float soft_target_row(const float* z, const float* t, int k, int n, bool log_probs, float* grad) {
  double lse = 0.0;  // log-sum-exp of the scores; 0 for log-probabilities
  if (!log_probs) {
    float m = z[0];
    for (int j = 1; j < k; ++j) m = z[j] > m ? z[j] : m;
    double sum = 0.0;
    for (int j = 0; j < k; ++j) sum += exp(static_cast<double>(z[j] - m));
    lse = m + log(sum);
  }
  double loss = 0.0;
  for (int j = 0; j < k; ++j) {
    const double logp = z[j] - lse;
    loss -= t[j] * logp;
    if (grad) grad[j] = static_cast<float>(((log_probs ? 0.0 : exp(logp)) - t[j]) / n);
  }
  return static_cast<float>(loss);
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
    loss += losses::soft_target_row(scores + at, targets + at, classes, n, log_probs, grad ? grad + at : nullptr);
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
