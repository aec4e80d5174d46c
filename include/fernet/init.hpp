#pragma once
// Initialisation policies, chosen per layer type. fan_in/fan_out follow PyTorch's definitions
// (in_channels * kh * kw and out_channels * kh * kw for convolutions).
#include <cmath>
#include <cstddef>

#include "random.hpp"

namespace fernet::init {

// PyTorch's default for nn.Conv2d and nn.Linear: kaiming_uniform_(a=sqrt(5)), which is
// U(-1/sqrt(fan_in), 1/sqrt(fan_in)), and the bias from the same bound.
struct KaimingUniform {
  static void weights(float* w, std::size_t n, int fan_in, int /*fan_out*/, Rng& rng) {
    const float bound = 1.f / std::sqrt(static_cast<float>(fan_in));
    for (std::size_t i = 0; i < n; ++i) w[i] = rng.uniform(-bound, bound);
  }
  static void bias(float* b, std::size_t n, int fan_in, int /*fan_out*/, Rng& rng) {
    const float bound = fan_in > 0 ? 1.f / std::sqrt(static_cast<float>(fan_in)) : 0.f;
    for (std::size_t i = 0; i < n; ++i) b[i] = rng.uniform(-bound, bound);
  }
};

// torchvision's ResNet convolutions: kaiming_normal_(mode="fan_out", nonlinearity="relu").
struct KaimingNormalFanOut {
  static void weights(float* w, std::size_t n, int /*fan_in*/, int fan_out, Rng& rng) {
    const float stddev = std::sqrt(2.f / static_cast<float>(fan_out));
    for (std::size_t i = 0; i < n; ++i) w[i] = rng.normal(0.f, stddev);
  }
  static void bias(float* b, std::size_t n, int, int, Rng&) {
    for (std::size_t i = 0; i < n; ++i) b[i] = 0.f;
  }
};

// TensorFlow 1.x's xavier_initializer (glorot uniform), with zero biases.
struct XavierUniform {
  static void weights(float* w, std::size_t n, int fan_in, int fan_out, Rng& rng) {
    const float bound = std::sqrt(6.f / static_cast<float>(fan_in + fan_out));
    for (std::size_t i = 0; i < n; ++i) w[i] = rng.uniform(-bound, bound);
  }
  static void bias(float* b, std::size_t n, int, int, Rng&) {
    for (std::size_t i = 0; i < n; ++i) b[i] = 0.f;
  }
};

}  // namespace fernet::init
