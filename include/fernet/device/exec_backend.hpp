#pragma once
// ExecBackend<Exec>: the Backend operations implemented once, by ops.hpp over an executor.
// The host backend and the CUDA backend derive from it with their own executor, memory
// functions and matrix product.
#include "backend.hpp"
#include "ops.hpp"

namespace fernet::device {

template <class Exec>
class ExecBackend : public Backend {
 public:
  void im2col(const float* x, const ConvDims& d, int samples, float* col) override {
    ops::im2col(exec_, x, d, samples, col);
  }
  void col2im(const float* col, const ConvDims& d, int samples, float* dx) override {
    ops::col2im(exec_, col, d, samples, dx);
  }
  void channels_to_samples(const float* src, const float* bias, int n, int channels, long pixels, float* y) override {
    ops::channels_to_samples(exec_, src, bias, n, channels, pixels, y);
  }
  void samples_to_channels(const float* src, int n, int channels, long pixels, float* dst) override {
    ops::samples_to_channels(exec_, src, n, channels, pixels, dst);
  }
  void accumulate_row_sums(const float* a, long rows, long cols, float* acc) override {
    ops::accumulate_row_sums(exec_, a, rows, cols, acc);
  }
  void accumulate_column_sums(const float* a, long rows, long cols, float* acc) override {
    ops::accumulate_column_sums(exec_, a, rows, cols, acc);
  }
  void add_row_bias(float* y, const float* bias, long rows, long cols) override {
    ops::add_row_bias(exec_, y, bias, rows, cols);
  }
  void relu_forward(const float* x, float* y, long count) override { ops::relu_forward(exec_, x, y, count); }
  void relu_backward(const float* y, const float* dy, float* dx, long count) override {
    ops::relu_backward(exec_, y, dy, dx, count);
  }
  void maxpool_forward(const float* x, const PoolDims& d, long planes, float* y, int* argmax) override {
    ops::maxpool_forward(exec_, x, d, planes, y, argmax);
  }
  void maxpool_backward(const float* dy, const int* argmax, const PoolDims& d, long planes, float* dx) override {
    ops::maxpool_backward(exec_, dy, argmax, d, planes, dx);
  }
  void dropout_forward(const float* x, float* y, long count, std::uint64_t seed, std::uint32_t threshold,
                       float scale) override {
    ops::dropout_forward(exec_, x, y, count, seed, threshold, scale);
  }
  void dropout_backward(const float* dy, float* dx, long count, std::uint64_t seed, std::uint32_t threshold,
                        float scale) override {
    ops::dropout_backward(exec_, dy, dx, count, seed, threshold, scale);
  }
  void batchnorm_statistics(const float* x, int n, int channels, long plane, bool training, double momentum,
                            double eps, float* running, float* mean, float* invstd) override {
    ops::batchnorm_statistics(exec_, x, n, channels, plane, training, momentum, eps, running, mean, invstd);
  }
  void batchnorm_apply(const float* x, int n, int channels, long plane, const float* gamma_beta, const float* mean,
                       const float* invstd, float* y) override {
    ops::batchnorm_apply(exec_, x, n, channels, plane, gamma_beta, mean, invstd, y);
  }
  void batchnorm_backward(const float* x, const float* dy, int n, int channels, long plane, const float* gamma_beta,
                          const float* mean, const float* invstd, bool training, float* grads, float* sums,
                          float* dx) override {
    ops::batchnorm_backward(exec_, x, dy, n, channels, plane, gamma_beta, mean, invstd, training, grads, sums, dx);
  }
  void global_avg_forward(const float* x, long planes, long plane, float* y) override {
    ops::global_avg_forward(exec_, x, planes, plane, y);
  }
  void global_avg_backward(const float* dy, long planes, long plane, float* dx) override {
    ops::global_avg_backward(exec_, dy, planes, plane, dx);
  }
  void add(const float* a, const float* b, float* y, long count) override { ops::add(exec_, a, b, y, count); }
  void add_inplace(float* y, const float* a, long count) override { ops::add_inplace(exec_, y, a, count); }
  void log_softmax_forward(const float* x, float* y, long rows, int k) override {
    ops::log_softmax_forward(exec_, x, y, rows, k);
  }
  void log_softmax_backward(const float* y, const float* dy, float* dx, long rows, int k) override {
    ops::log_softmax_backward(exec_, y, dy, dx, rows, k);
  }
  void loss(const float* out, const int* labels, int n, int k, bool log_probs, float* grad, float* scratch,
            float* result) override {
    ops::loss(exec_, out, labels, n, k, log_probs, grad, scratch, result);
  }
  void sgd_step(float* p, const float* g, float* buf, long count, const SgdStep& o) override {
    ops::sgd_step(exec_, p, g, buf, count, o);
  }
  void adam_step(float* p, const float* g, float* m, float* v, long count, const AdamStep& o) override {
    ops::adam_step(exec_, p, g, m, v, count, o);
  }

 protected:
  Exec exec_;
};

}  // namespace fernet::device
