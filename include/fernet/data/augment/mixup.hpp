#pragma once
// Mixup (Zhang et al. 2018) over a batch: image i becomes lambda * x_i + (1 - lambda) * x_j and
// its target the same blend of the two one-hot labels, with one lambda ~ Beta(alpha, alpha) per
// batch. Partner j = n - 1 - i (the batch reversed, as timm does: the batch is already a random
// draw, and pairs can be mixed in place). Targets are soft labels (n x classes) for
// soft_target_cross_entropy (fernet/losses/soft_target.hpp); label_smoothing > 0 smooths the
// one-hot labels first, ((1 - eps) * one-hot + eps / classes), as timm's mixup with smoothing.
// Seed it with batch_rng(seed, epoch, batch index) (seed.hpp): its pairs depend on the batch.
#include <cmath>
#include <cstddef>
#include <stdexcept>
#include <string>

#include "../../losses/soft_target.hpp"
#include "../../random.hpp"

namespace fernet::data::augment {

// Gamma(shape, 1) by Marsaglia and Tsang (2000); shape < 1 through Gamma(shape + 1) * U^(1/shape).
inline double sample_gamma(Rng& rng, double shape) {
  if (shape < 1.0) {
    const double u = (static_cast<double>(rng.next() >> 11) + 1.0) * 0x1.0p-53;  // (0, 1]
    return sample_gamma(rng, shape + 1.0) * std::pow(u, 1.0 / shape);
  }
  const double d = shape - 1.0 / 3.0, c = 1.0 / std::sqrt(9.0 * d);
  for (;;) {
    double x, v;
    do {
      x = rng.normal();
      v = 1.0 + c * x;
    } while (v <= 0.0);
    v = v * v * v;
    const double u = (static_cast<double>(rng.next() >> 11) + 1.0) * 0x1.0p-53;
    if (std::log(u) < 0.5 * x * x + d - d * v + d * std::log(v)) return d * v;
  }
}
inline double sample_beta(Rng& rng, double a, double b) {
  const double x = sample_gamma(rng, a), y = sample_gamma(rng, b);
  return x / (x + y);
}

// Soft labels: (1 - smoothing) * one-hot(label) + smoothing / classes, row by row.
inline void one_hot(const int* labels, int n, int classes, float smoothing, float* targets) {
  for (int i = 0; i < n; ++i) {
    if (labels[i] < 0 || labels[i] >= classes)
      throw std::out_of_range("fernet::data::augment::one_hot: label " + std::to_string(labels[i]) + " of sample " +
                              std::to_string(i) + " is outside 0.." + std::to_string(classes - 1));
    losses::smoothed_target_row(labels[i], classes, smoothing, targets + static_cast<std::ptrdiff_t>(i) * classes);
  }
}

struct Mixup {
  float alpha = 0.2f;
  float label_smoothing = 0.f;

  // Mixes images (n x sample_floats) in place and writes targets (n x classes); returns lambda.
  float apply(float* images, const int* labels, int n, std::size_t sample_floats, int classes, float* targets,
              Rng& rng) const {
    if (!(alpha > 0.f))
      throw std::invalid_argument("fernet::data::augment::Mixup: alpha must be positive, got " + std::to_string(alpha));
    one_hot(labels, n, classes, label_smoothing, targets);
    const float lambda = static_cast<float>(sample_beta(rng, alpha, alpha));
    const float rest = 1.f - lambda;
    for (int i = 0; i < n / 2; ++i) {  // the middle sample of an odd batch is its own partner
      const int j = n - 1 - i;
      float* a = images + i * sample_floats;
      float* b = images + j * sample_floats;
      for (std::size_t p = 0; p < sample_floats; ++p) {
        const float va = a[p], vb = b[p];
        a[p] = lambda * va + rest * vb;
        b[p] = lambda * vb + rest * va;
      }
      float* ta = targets + static_cast<std::ptrdiff_t>(i) * classes;
      float* tb = targets + static_cast<std::ptrdiff_t>(j) * classes;
      for (int k = 0; k < classes; ++k) {
        const float va = ta[k], vb = tb[k];
        ta[k] = lambda * va + rest * vb;
        tb[k] = lambda * vb + rest * va;
      }
    }
    return lambda;
  }
};

}  // namespace fernet::data::augment
