#pragma once
// BatchNorm2d<C>: per-channel normalisation as PyTorch's nn.BatchNorm2d (momentum 0.1,
// eps 1e-5). Parameters: weight (gamma) then bias (beta). Buffers: running_mean then
// running_var. Training normalises with the batch's biased variance and updates the running
// variance with the unbiased one; evaluation uses the running statistics.
#include <cmath>
#include <vector>

#include "../kernels/batchnorm.hpp"
#include "../layer.hpp"

namespace fernet {

namespace detail {

// What both forms share: shapes, parameter and buffer layout, initialisation.
template <class InShape, int C, int MomentumPermille, int EpsExp10, class Exec>
struct BatchNormBase : LayerBase<InShape, InShape, Exec> {
  using LayerBase<InShape, InShape, Exec>::LayerBase;
  static constexpr int plane = InShape::height * InShape::width;
  static constexpr std::size_t param_count = 2 * C, buffer_count = 2 * C;
  static constexpr double momentum = MomentumPermille / 1000.0;
  static inline const double eps = std::pow(10.0, EpsExp10);

  void bind(float* p, float* g, float* b) {
    p_ = p;
    g_ = g;
    b_ = b;
  }
  void init(Rng&) {
    for (int c = 0; c < C; ++c) {
      p_[c] = 1.f;
      p_[C + c] = 0.f;
      b_[c] = 0.f;
      b_[C + c] = 1.f;
    }
  }

 protected:
  float* p_ = nullptr;
  float* g_ = nullptr;
  float* b_ = nullptr;
};

// Batch norm over any execution policy's operations (the device backends): statistics by
// per-channel reductions in double, then the element-wise normalisation.
template <class InShape, int C, int MomentumPermille, int EpsExp10, class Exec>
struct BatchNormLayer : BatchNormBase<InShape, C, MomentumPermille, EpsExp10, Exec> {
  using Base = BatchNormBase<InShape, C, MomentumPermille, EpsExp10, Exec>;
  explicit BatchNormLayer(const Exec& exec = {})
      : Base(exec),
        mean_(this->template make_array<float>()),
        invstd_(this->template make_array<float>()),
        sums_(this->template make_array<float>()) {
    mean_.resize(C);
    invstd_.resize(C);
    sums_.resize(2 * C);
  }
  void forward(const float* x, float* y, int n, const Context& ctx) {
    auto&& ops = this->ops();
    ops.batchnorm_statistics(x, n, C, Base::plane, ctx.training, Base::momentum, Base::eps, this->b_, mean_.data(),
                             invstd_.data());
    ops.batchnorm_apply(x, n, C, Base::plane, this->p_, mean_.data(), invstd_.data(), y);
  }
  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context& ctx) {
    this->ops().batchnorm_backward(x, dy, n, C, Base::plane, this->p_, mean_.data(), invstd_.data(), ctx.training,
                                   this->g_, sums_.data(), dx);
  }

 private:
  typename Exec::template array<float> mean_, invstd_, sums_;
};

// The CPU's own form, kept apart because it is hand-tuned: one fused pass per plane for both
// backward sums, vectorised planes (ResNet-18's batch norms 1.6-5x faster; benchmarks/NOTES.md),
// the passes dispatched kernels (kernels/batchnorm.hpp), channels across threads.
template <class InShape, int C, int MomentumPermille, int EpsExp10>
struct BatchNormLayer<InShape, C, MomentumPermille, EpsExp10, CpuExec>
    : BatchNormBase<InShape, C, MomentumPermille, EpsExp10, CpuExec> {
  using Base = BatchNormBase<InShape, C, MomentumPermille, EpsExp10, CpuExec>;
  using Base::Base, Base::plane, Base::momentum, Base::eps;

  void forward(const float* x, float* y, int n, const Context& ctx) {
    mean_.resize(C);
    invstd_.resize(C);
    const std::ptrdiff_t cstride = static_cast<std::ptrdiff_t>(C) * plane;
    const double count = static_cast<double>(n) * plane;
#pragma omp parallel for schedule(static) if (static_cast <long>(n) * InShape::size > (1 << 15))
    for (int c = 0; c < C; ++c) {
      const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(c) * plane;
      double mean, var;
      if (ctx.training) {
        kernels::batchnorm_statistics(x + off, cstride, n, plane, &mean, &var);
        const double unbiased = count > 1 ? var * count / (count - 1) : var;
        this->b_[c] = static_cast<float>((1 - momentum) * this->b_[c] + momentum * mean);
        this->b_[C + c] = static_cast<float>((1 - momentum) * this->b_[C + c] + momentum * unbiased);
      } else {
        mean = this->b_[c];
        var = this->b_[C + c];
      }
      const double invstd = 1.0 / std::sqrt(var + eps);
      mean_[c] = static_cast<float>(mean);
      invstd_[c] = static_cast<float>(invstd);
      const float scale = static_cast<float>(this->p_[c] * invstd);
      const float shift = static_cast<float>(this->p_[C + c] - mean * this->p_[c] * invstd);
      kernels::batchnorm_scale_shift(x + off, y + off, cstride, n, plane, scale, shift);
    }
  }

  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context& ctx) {
    const std::ptrdiff_t cstride = static_cast<std::ptrdiff_t>(C) * plane;
    const double count = static_cast<double>(n) * plane;
#pragma omp parallel for schedule(static) if (static_cast <long>(n) * InShape::size > (1 << 15))
    for (int c = 0; c < C; ++c) {
      const float mean = mean_[c], invstd = invstd_[c];
      const std::ptrdiff_t off = static_cast<std::ptrdiff_t>(c) * plane;
      double sum_dy, sum_dy_xhat;
      kernels::batchnorm_backward_sums(x + off, dy + off, cstride, n, plane, mean, &sum_dy, &sum_dy_xhat);
      sum_dy_xhat *= invstd;
      this->g_[c] += static_cast<float>(sum_dy_xhat);
      this->g_[C + c] += static_cast<float>(sum_dy);
      if (!dx) continue;
      // training: dx = gamma * invstd * (dy - mean(dy) - xhat * mean(dy * xhat)); evaluation:
      // gamma * invstd * dy.
      const float k1 = ctx.training ? static_cast<float>(sum_dy / count) : 0.f;
      const float k2 = ctx.training ? static_cast<float>(sum_dy_xhat / count) : 0.f;
      kernels::batchnorm_backward_input(x + off, dy + off, dx + off, cstride, n, plane, mean, invstd,
                                        this->p_[c] * invstd, k1, k2);
    }
  }

 private:
  std::vector<float> mean_, invstd_;
};

}  // namespace detail

// Momentum in thousandths and eps as a power of ten keep the template arguments integral.
template <int C, int MomentumPermille = 100, int EpsExp10 = -5>
struct BatchNorm2d {
  static std::string name() { return "BatchNorm2d<" + std::to_string(C) + ">"; }
  template <class InShape>
  static constexpr bool accepts = InShape::channels == C;
  template <class InShape>
  using expects = expects_channels<C>;
  template <class InShape, class Exec = CpuExec>
  using layer = detail::BatchNormLayer<InShape, C, MomentumPermille, EpsExp10, Exec>;
};

}  // namespace fernet
