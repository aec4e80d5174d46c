#pragma once
// The device operation set, declared once. Each entry is
//
//   OP(name, (parameters), arguments...)
//
// and becomes a pure virtual function of device::Backend (backend.hpp) and its implementation
// in device::ExecBackend (exec_backend.hpp), which calls device::ops::name(executor, arguments...)
// (ops.hpp, the one definition of each operation, documented there). The CPU's versions of the
// operations that shared layer bodies call are CpuOps (execution.hpp), with the same names and
// arguments. Memory, gemm and synchronisation are each backend's own (backend.hpp).
#include <cstdint>

#include "../kernels/element_rules.hpp"
#include "../kernels/geometry.hpp"

// clang-format off: one operation per entry reads better than what the formatter makes of it
#define FERNET_DEVICE_OPERATIONS(OP)                                                                                   \
  OP(im2col, (const float* x, const kernels::WindowGeometry& g, int samples, float* col), x, g, samples, col)          \
  OP(col2im, (const float* col, const kernels::WindowGeometry& g, int samples, float* dx), col, g, samples, dx)        \
  OP(channels_to_samples, (const float* src, const float* bias, int n, int channels, long pixels, float* y), src,      \
     bias, n, channels, pixels, y)                                                                                     \
  OP(samples_to_channels, (const float* src, int n, int channels, long pixels, float* dst), src, n, channels, pixels,  \
     dst)                                                                                                              \
  OP(accumulate_row_sums, (const float* a, long rows, long cols, float* acc), a, rows, cols, acc)                      \
  OP(accumulate_column_sums, (const float* a, long rows, long cols, float* acc), a, rows, cols, acc)                   \
  OP(add_row_bias, (float* y, const float* bias, long rows, long cols), y, bias, rows, cols)                           \
  OP(relu_forward, (const float* x, float* y, long count), x, y, count)                                                \
  OP(relu_backward, (const float* y, const float* dy, float* dx, long count), y, dy, dx, count)                        \
  OP(run_activation_forward, (int rule, const void* params, const float* x, float* y, long count), rule, params, x, y, \
     count)                                                                                                            \
  OP(run_activation_backward,                                                                                          \
     (int rule, const void* params, const float* x, const float* y, const float* dy, float* dx, long count), rule,     \
     params, x, y, dy, dx, count)                                                                                      \
  OP(maxpool_forward, (const float* x, const kernels::WindowGeometry& g, long planes, float* y, int* argmax), x, g,    \
     planes, y, argmax)                                                                                                \
  OP(maxpool_backward, (const float* dy, const int* argmax, const kernels::WindowGeometry& g, long planes, float* dx), \
     dy, argmax, g, planes, dx)                                                                                        \
  OP(dropout_forward,                                                                                                  \
     (const float* x, float* y, long count, std::uint64_t seed, std::uint32_t threshold, float scale, long first),     \
     x, y, count, seed, threshold, scale, first)                                                                       \
  OP(dropout_backward,                                                                                                 \
     (const float* dy, float* dx, long count, std::uint64_t seed, std::uint32_t threshold, float scale, long first),   \
     dy, dx, count, seed, threshold, scale, first)                                                                     \
  OP(batchnorm_statistics,                                                                                             \
     (const float* x, int n, int channels, long plane, bool training, double momentum, double eps, float* running,     \
      float* mean, float* invstd),                                                                                     \
     x, n, channels, plane, training, momentum, eps, running, mean, invstd)                                            \
  OP(batchnorm_apply,                                                                                                  \
     (const float* x, int n, int channels, long plane, const float* gamma_beta, const float* mean,                     \
      const float* invstd, float* y),                                                                                  \
     x, n, channels, plane, gamma_beta, mean, invstd, y)                                                               \
  OP(batchnorm_backward,                                                                                               \
     (const float* x, const float* dy, int n, int channels, long plane, const float* gamma_beta, const float* mean,    \
      const float* invstd, bool training, float* grads, float* sums, float* dx),                                       \
     x, dy, n, channels, plane, gamma_beta, mean, invstd, training, grads, sums, dx)                                   \
  OP(global_avg_forward, (const float* x, long planes, long plane, float* y), x, planes, plane, y)                     \
  OP(global_avg_backward, (const float* dy, long planes, long plane, float* dx), dy, planes, plane, dx)                \
  OP(add, (const float* a, const float* b, float* y, long count), a, b, y, count)                                      \
  OP(add_inplace, (float* y, const float* a, long count), y, a, count)                                                 \
  OP(log_softmax_forward, (const float* x, float* y, long rows, int k), x, y, rows, k)                                 \
  OP(log_softmax_backward, (const float* y, const float* dy, float* dx, long rows, int k), y, dy, dx, rows, k)         \
  OP(loss,                                                                                                             \
     (const float* out, const int* labels, int n, int k, bool log_probs, float smoothing, float* grad, float* scratch, \
      float* result), out, labels, n, k, log_probs, smoothing, grad, scratch, result)                                  \
  OP(sgd_step, (float* p, const float* g, float* buf, long count, const kernels::SgdStep& o), p, g, buf, count, o)     \
  OP(adam_step, (float* p, const float* g, float* m, float* v, long count, const kernels::AdamStep& o), p, g, m, v,    \
     count, o)
// clang-format on
