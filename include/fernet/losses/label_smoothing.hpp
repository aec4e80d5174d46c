#pragma once
// Cross-entropy with label smoothing, PyTorch's definition
// (CrossEntropyLoss(label_smoothing=eps)): (1 - eps) * NLL + eps * mean over classes of -log p,
// i.e. the soft-target cross-entropy against (1 - eps) * one-hot + eps / classes. Mean over the
// batch; gradient in the same pass. eps = 0 is the plain loss.
#include <stdexcept>
#include <string>
#include <vector>

#include "../kernels/element_rules.hpp"

namespace fernet {

// scores: n x classes raw scores (log_probs: log-probabilities, as NLLLoss takes).
inline float smoothed_cross_entropy(const float* scores, const int* labels, int n, int classes, float eps,
                                    float* grad = nullptr, bool log_probs = false) {
  if (!(eps >= 0.f && eps <= 1.f))
    throw std::invalid_argument("fernet::smoothed_cross_entropy: label smoothing must be in [0, 1], got " +
                                std::to_string(eps));
  if (n <= 0 || classes <= 0)
    throw std::invalid_argument("fernet::smoothed_cross_entropy: needs at least one row and one class (got " +
                                std::to_string(n) + " x " + std::to_string(classes) + ")");
  std::vector<float> scratch(grad ? 0 : classes);
  double loss = 0.0;
  for (int i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= classes)
      throw std::out_of_range("fernet::smoothed_cross_entropy: label " + std::to_string(labels[i]) + " of sample " +
                              std::to_string(i) + " is outside 0.." + std::to_string(classes - 1));
    const std::ptrdiff_t at = static_cast<std::ptrdiff_t>(i) * classes;
    // The rule is loss_row's, the one the plain losses and the device backends use.
    loss += kernels::loss_row(scores + at, labels[i], classes, n, log_probs, grad ? grad + at : scratch.data(), eps);
  }
  return static_cast<float>(loss / n);
}

// As loss types with the Loss::compute(out, labels, n, classes, grad) interface of loss.hpp; the
// smoothing is a template argument, as Dropout<P>'s probability.
template <float Eps>
struct SmoothedCrossEntropyLoss {
  static float compute(const float* logits, const int* labels, int n, int classes, float* grad = nullptr) {
    return smoothed_cross_entropy(logits, labels, n, classes, Eps, grad, false);
  }
};
template <float Eps>
struct SmoothedNLLLoss {
  static float compute(const float* logp, const int* labels, int n, int classes, float* grad = nullptr) {
    return smoothed_cross_entropy(logp, labels, n, classes, Eps, grad, true);
  }
};

}  // namespace fernet
