#pragma once
// BatchNorm2d<C>: per-channel normalisation as PyTorch's nn.BatchNorm2d (momentum 0.1,
// eps 1e-5). Parameters: weight (gamma) then bias (beta). Buffers: running_mean then
// running_var. Training normalises with the batch's biased variance and updates the running
// variance with the unbiased one; evaluation uses the running statistics.
#include <cmath>
#include <vector>

#include "../layer.hpp"

namespace fernet {

namespace detail {
template <class In, int C, int MomentumPermille, int EpsExp10>
struct BatchNormLayer {
  using in_shape = In;
  using out_shape = In;
  static constexpr int plane = In::height * In::width;
  static constexpr std::size_t param_count = 2 * C, buffer_count = 2 * C;
  static constexpr double momentum = MomentumPermille / 1000.0;
  static inline const double eps = std::pow(10.0, EpsExp10);

  void bind(float* p, float* g, float* b) { p_ = p; g_ = g; b_ = b; }
  void init(Rng&) {
    for (int c = 0; c < C; ++c) {
      p_[c] = 1.f; p_[C + c] = 0.f;
      b_[c] = 0.f; b_[C + c] = 1.f;
    }
  }

  void forward(const float* x, float* y, int n, const Context& ctx) {
    mean_.resize(C);
    invstd_.resize(C);
    const std::ptrdiff_t cstride = static_cast<std::ptrdiff_t>(C) * plane;
    const double count = static_cast<double>(n) * plane;
#pragma omp parallel for schedule(static) if (static_cast<long>(n) * In::size > (1 << 15))
    for (int c = 0; c < C; ++c) {
      double mean, var;
      if (ctx.training) {
        // Two passes (mean, then squared deviations) stay accurate when |mean| >> std.
        double s = 0.0;
        for (int i = 0; i < n; ++i) {
          const float* xc = x + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
          float fs = 0.f;
          for (int k = 0; k < plane; ++k) fs += xc[k];
          s += fs;
        }
        mean = s / count;
        double ss = 0.0;
        for (int i = 0; i < n; ++i) {
          const float* xc = x + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
          const float m = static_cast<float>(mean);
          float fss = 0.f;
          for (int k = 0; k < plane; ++k) { const float d = xc[k] - m; fss += d * d; }
          ss += fss;
        }
        var = ss / count;
        const double unbiased = count > 1 ? var * count / (count - 1) : var;
        b_[c] = static_cast<float>((1 - momentum) * b_[c] + momentum * mean);
        b_[C + c] = static_cast<float>((1 - momentum) * b_[C + c] + momentum * unbiased);
      } else {
        mean = b_[c];
        var = b_[C + c];
      }
      const double invstd = 1.0 / std::sqrt(var + eps);
      mean_[c] = static_cast<float>(mean);
      invstd_[c] = static_cast<float>(invstd);
      const float scale = static_cast<float>(p_[c] * invstd);
      const float shift = static_cast<float>(p_[C + c] - mean * p_[c] * invstd);
      for (int i = 0; i < n; ++i) {
        const float* xc = x + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
        float* yc = y + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
        for (int k = 0; k < plane; ++k) yc[k] = xc[k] * scale + shift;
      }
    }
  }

  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context& ctx) {
    const std::ptrdiff_t cstride = static_cast<std::ptrdiff_t>(C) * plane;
    const double count = static_cast<double>(n) * plane;
#pragma omp parallel for schedule(static) if (static_cast<long>(n) * In::size > (1 << 15))
    for (int c = 0; c < C; ++c) {
      const float mean = mean_[c], invstd = invstd_[c];
      double sum_dy = 0.0, sum_dy_xhat = 0.0;
      for (int i = 0; i < n; ++i) {
        const float* xc = x + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
        const float* gc = dy + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
        float a = 0.f, b = 0.f;
        for (int k = 0; k < plane; ++k) { a += gc[k]; b += gc[k] * (xc[k] - mean); }
        sum_dy += a; sum_dy_xhat += b;
      }
      sum_dy_xhat *= invstd;
      g_[c] += static_cast<float>(sum_dy_xhat);
      g_[C + c] += static_cast<float>(sum_dy);
      if (!dx) continue;
      const float gamma = p_[c];
      for (int i = 0; i < n; ++i) {
        const float* xc = x + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
        const float* gc = dy + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
        float* dc = dx + i * cstride + static_cast<std::ptrdiff_t>(c) * plane;
        if (ctx.training) {
          // dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat))
          const float k1 = static_cast<float>(sum_dy / count);
          const float k2 = static_cast<float>(sum_dy_xhat / count);
          for (int k = 0; k < plane; ++k) {
            const float xhat = (xc[k] - mean) * invstd;
            dc[k] = gamma * invstd * (gc[k] - k1 - xhat * k2);
          }
        } else {
          for (int k = 0; k < plane; ++k) dc[k] = gamma * invstd * gc[k];
        }
      }
    }
  }

 private:
  float* p_ = nullptr;
  float* g_ = nullptr;
  float* b_ = nullptr;
  std::vector<float> mean_, invstd_;
};
}  // namespace detail

// Momentum in thousandths and eps as a power of ten keep the template arguments integral.
template <int C, int MomentumPermille = 100, int EpsExp10 = -5>
struct BatchNorm2d {
  static std::string name() { return "BatchNorm2d<" + std::to_string(C) + ">"; }
  template <class S> static constexpr bool accepts = S::channels == C;
  template <class S> using expects = expects_channels<C>;
  template <class S> using layer = detail::BatchNormLayer<S, C, MomentumPermille, EpsExp10>;
};

}  // namespace fernet
