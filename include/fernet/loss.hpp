#pragma once
// Losses, mean over the batch, each computing its gradient in the same pass.
//   NLLLoss:          input = log-probabilities (after LogSoftmax), as torch.nn.NLLLoss
//   CrossEntropyLoss: input = raw scores; log-softmax and NLL fused (torch.nn.CrossEntropyLoss)
#include <cmath>
#include <stdexcept>
#include <string>

namespace fernet {

namespace detail {
inline void check_label(int label, int classes, int row) {
  if (label < 0 || label >= classes)
    throw std::out_of_range("fernet: label " + std::to_string(label) + " of sample " +
                            std::to_string(row) + " is outside 0.." + std::to_string(classes - 1));
}
}  // namespace detail

struct NLLLoss {
  // Returns the mean loss; writes d(loss)/d(input) to grad (n x classes) when not null.
  static float compute(const float* logp, const int* labels, int n, int classes, float* grad = nullptr) {
    double loss = 0.0;
    for (int i = 0; i < n; ++i) {
      detail::check_label(labels[i], classes, i);
      loss -= logp[static_cast<std::ptrdiff_t>(i) * classes + labels[i]];
    }
    if (grad) {
      std::fill(grad, grad + static_cast<std::ptrdiff_t>(n) * classes, 0.f);
      for (int i = 0; i < n; ++i) grad[static_cast<std::ptrdiff_t>(i) * classes + labels[i]] = -1.f / n;
    }
    return static_cast<float>(loss / n);
  }
};

struct CrossEntropyLoss {
  static float compute(const float* logits, const int* labels, int n, int classes, float* grad = nullptr) {
    double loss = 0.0;
    for (int i = 0; i < n; ++i) {
      detail::check_label(labels[i], classes, i);
      const float* z = logits + static_cast<std::ptrdiff_t>(i) * classes;
      float m = z[0];
      for (int j = 1; j < classes; ++j) m = std::max(m, z[j]);
      double sum = 0.0;
      for (int j = 0; j < classes; ++j) sum += std::exp(static_cast<double>(z[j] - m));
      const double lse = m + std::log(sum);
      loss += lse - z[labels[i]];
      if (grad) {
        float* g = grad + static_cast<std::ptrdiff_t>(i) * classes;
        for (int j = 0; j < classes; ++j)
          g[j] = static_cast<float>((std::exp(z[j] - lse) - (j == labels[i] ? 1.0 : 0.0)) / n);
      }
    }
    return static_cast<float>(loss / n);
  }
};

// Index of the largest score of each row: the predicted class.
inline int argmax_row(const float* row, int classes) {
  int best = 0;
  for (int j = 1; j < classes; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

}  // namespace fernet
