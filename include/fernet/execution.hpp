#pragma once
// Where a layer's work runs: the execution policy every layer implementation is written over.
//
//   struct Exec {
//     auto ops() const;                         // the operations: gemm, relu_forward, copy, ...
//     template <class T> using array = ...;     // a growable buffer in that memory
//     template <class T> array<T> make_array() const;
//     static constexpr bool host;               // true when pointers are CPU memory
//   };
//
// CpuExec runs on the CPU with fernet's xsimd/OpenMP kernels; device::DeviceExec
// (device/execution.hpp) runs the same layer code on a device Backend, whose operations have
// the same names and arguments. A layer whose CPU form is hand-tuned specialises itself for
// CpuExec and says why at that spot (convolution, pooling, batch norm).
#include <cstddef>
#include <cstdint>
#include <cstring>
#include <vector>

#include "kernels/activation_rules.hpp"
#include "kernels/element_rules.hpp"
#include "kernels/elementwise.hpp"
#include "kernels/gemm.hpp"

namespace fernet {

// The CPU's implementation of the operations the shared layer bodies call. Arguments are
// those of device::Backend's operations (device/operations.hpp), so a layer body reads the
// same on both.
struct CpuOps {
  static void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                   const float* b, int ldb, float beta, float* c, int ldc) {
    using kernels::Trans;
    kernels::gemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, alpha, a, lda, b, ldb,
                  beta, c, ldc);
  }
  static void copy(void* dst, const void* src, std::size_t bytes) {
    if (dst != src && bytes) std::memmove(dst, src, bytes);
  }
  static void add_row_bias(float* y, const float* bias, long rows, long cols) {
    kernels::add_row_bias(y, bias, static_cast<int>(rows), static_cast<int>(cols));
  }
  static void accumulate_column_sums(const float* a, long rows, long cols, float* acc) {
    kernels::accumulate_column_sums(a, acc, static_cast<int>(rows), static_cast<int>(cols));
  }
  static void relu_forward(const float* x, float* y, long count) { kernels::relu_forward(x, y, count); }
  static void relu_backward(const float* y, const float* dy, float* dx, long count) {
    kernels::relu_backward(y, dy, dx, count);
  }
  static void add(const float* a, const float* b, float* y, long count) { kernels::add(a, b, y, count); }
  static void add_inplace(float* y, const float* a, long count) { kernels::add_inplace(y, a, count); }

  // `first`: the index of element 0 in the mask stream (a shard of a larger batch; 0 otherwise).
  static void dropout_forward(const float* x, float* y, long count, std::uint64_t seed, std::uint32_t threshold,
                              float scale, long first = 0) {
    kernels::dropout_forward(x, y, count, seed, threshold, scale, first);
  }
  static void dropout_backward(const float* dy, float* dx, long count, std::uint64_t seed, std::uint32_t threshold,
                               float scale, long first = 0) {
    kernels::dropout_backward(dy, dx, count, seed, threshold, scale, first);
  }

  // Means of `planes` planes of `plane` values each (summed in float, in order).
  static void global_avg_forward(const float* x, long planes, long plane, float* y) {
#pragma omp parallel for schedule(static) if (planes * plane > (1 << 15))
    for (long p = 0; p < planes; ++p) {
      const float* xp = x + p * plane;
      float s = 0.f;
      for (long i = 0; i < plane; ++i) s += xp[i];
      y[p] = s / static_cast<float>(plane);
    }
  }
  static void global_avg_backward(const float* dy, long planes, long plane, float* dx) {
#pragma omp parallel for schedule(static) if (planes * plane > (1 << 15))
    for (long p = 0; p < planes; ++p) {
      const float g = dy[p] / static_cast<float>(plane);
      float* dp = dx + p * plane;
      for (long i = 0; i < plane; ++i) dp[i] = g;
    }
  }

  static void log_softmax_forward(const float* x, float* y, long rows, int k) {
    for (long r = 0; r < rows; ++r) kernels::log_softmax_row(x + r * k, y + r * k, k);
  }
  static void log_softmax_backward(const float* y, const float* dy, float* dx, long rows, int k) {
    for (long r = 0; r < rows; ++r) kernels::log_softmax_grad_row(y + r * k, dy + r * k, dx + r * k, k);
  }

  // Element-wise activations (kernels/activation_rules.hpp): plain loops over the rule, which
  // the compiler vectorises.
  template <class Rule>
  static void activation_forward(const Rule& rule, const float* x, float* y, long count) {
#pragma omp parallel for simd schedule(static) if (count > (1 << 15))
    for (long i = 0; i < count; ++i) y[i] = rule.forward(x[i]);
  }
  template <class Rule>
  static void activation_backward(const Rule& rule, const float* x, const float* y, const float* dy, float* dx,
                                  long count) {
#pragma omp parallel for simd schedule(static) if (count > (1 << 15))
    for (long i = 0; i < count; ++i) dx[i] = rule.backward(x[i], y[i], dy[i]);
  }
};

struct CpuExec {
  static constexpr bool host = true;
  template <class T>
  using array = std::vector<T>;
  template <class T>
  array<T> make_array() const {
    return {};
  }
  CpuOps ops() const { return {}; }
};

}  // namespace fernet
