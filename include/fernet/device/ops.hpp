#pragma once
// Every device operation, written once over an *executor* with two primitives:
//
//   ex.for_each(total, f)                    f(i) for i in [0, total), in any order
//   ex.segment_sums(segments, length, v, s)  s(seg, sum over j < length of v(seg, j)), double
//
// The CUDA backend (cuda/cuda_backend.cu) runs them as kernels (one thread per element, one
// block per segment); the host backend (host_backend.hpp) as OpenMP loops. Both instantiate
// this same code, so the CPU tests cover the device code paths except the launch itself.
// FERNET_LAMBDA marks the lambdas as device code under nvcc.
#include "../kernels/activation_rules.hpp"
#include "../kernels/element_rules.hpp"

#if defined(__CUDACC__)
#define FERNET_LAMBDA __device__
#else
#define FERNET_LAMBDA
#endif

namespace fernet::device::ops {

using namespace fernet::kernels;  // the per-element rules
using kernels::WindowGeometry;

template <class Exec>
void im2col(Exec& ex, const float* x, WindowGeometry d, int samples, float* col) {
  ex.for_each(d.rows() * samples * d.pixels(), [=] FERNET_LAMBDA(long i) { col[i] = im2col_at(x, d, samples, i); });
}

template <class Exec>
void col2im(Exec& ex, const float* col, WindowGeometry d, int samples, float* dx) {
  ex.for_each(static_cast<long>(samples) * d.channels * d.height * d.width,
              [=] FERNET_LAMBDA(long i) { dx[i] = col2im_at(col, d, samples, i); });
}

template <class Exec>
void channels_to_samples(Exec& ex, const float* src, const float* bias, int n, int channels, long pixels, float* y) {
  ex.for_each(static_cast<long>(n) * channels * pixels,
              [=] FERNET_LAMBDA(long i) { y[i] = channels_to_samples_at(src, bias, n, channels, pixels, i); });
}

template <class Exec>
void samples_to_channels(Exec& ex, const float* src, int n, int channels, long pixels, float* dst) {
  ex.for_each(static_cast<long>(n) * channels * pixels,
              [=] FERNET_LAMBDA(long i) { dst[i] = samples_to_channels_at(src, n, channels, pixels, i); });
}

// acc[r] += sum of row r of a (rows x cols, row-major).
template <class Exec>
void accumulate_row_sums(Exec& ex, const float* a, long rows, long cols, float* acc) {
  ex.segment_sums(
      rows, cols, [=] FERNET_LAMBDA(long r, long j) { return static_cast<double>(a[r * cols + j]); },
      [=] FERNET_LAMBDA(long r, double s) { acc[r] += static_cast<float>(s); });
}

// acc[c] += sum of column c of a (rows x cols, row-major).
template <class Exec>
void accumulate_column_sums(Exec& ex, const float* a, long rows, long cols, float* acc) {
  ex.segment_sums(
      cols, rows, [=] FERNET_LAMBDA(long c, long r) { return static_cast<double>(a[r * cols + c]); },
      [=] FERNET_LAMBDA(long c, double s) { acc[c] += static_cast<float>(s); });
}

template <class Exec>
void add_row_bias(Exec& ex, float* y, const float* bias, long rows, long cols) {
  ex.for_each(rows * cols, [=] FERNET_LAMBDA(long i) { y[i] += bias[i % cols]; });
}

template <class Exec>
void relu_forward(Exec& ex, const float* x, float* y, long count) {
  ex.for_each(count, [=] FERNET_LAMBDA(long i) { y[i] = relu_at(x[i]); });
}

template <class Exec>
void relu_backward(Exec& ex, const float* y, const float* dy, float* dx, long count) {
  ex.for_each(count, [=] FERNET_LAMBDA(long i) { dx[i] = relu_grad_at(y[i], dy[i]); });
}

template <class Exec>
void maxpool_forward(Exec& ex, const float* x, WindowGeometry d, long planes, float* y, int* argmax) {
  ex.for_each(planes * d.out_h * d.out_w, [=] FERNET_LAMBDA(long i) { maxpool_forward_at(x, d, i, y, argmax); });
}

template <class Exec>
void maxpool_backward(Exec& ex, const float* dy, const int* argmax, WindowGeometry d, long planes, float* dx) {
  ex.for_each(planes * d.height * d.width,
              [=] FERNET_LAMBDA(long i) { dx[i] = maxpool_backward_at(dy, argmax, d, i); });
}

// Element-wise activations: the rule is number `rule` of kernels::activation_rule_list, its
// parameters at `params` (copied into the kernel by value).
template <class Rule, class Exec>
void activation_forward_with(Exec& ex, Rule r, const float* x, float* y, long count) {
  ex.for_each(count, [=] FERNET_LAMBDA(long e) { y[e] = r.forward(x[e]); });
}
template <class Rule, class Exec>
void activation_backward_with(Exec& ex, Rule r, const float* x, const float* y, const float* dy, float* dx,
                              long count) {
  ex.for_each(count, [=] FERNET_LAMBDA(long e) { dx[e] = r.backward(x[e], y[e], dy[e]); });
}
template <class Exec, class... Rules>
void activation_forward_of(Exec& ex, kernels::rule_list<Rules...>, int rule, const void* params, const float* x,
                           float* y, long count) {
  int i = 0;
  (void)((i++ == rule && (activation_forward_with(ex, *static_cast<const Rules*>(params), x, y, count), true)) || ...);
}
template <class Exec, class... Rules>
void activation_backward_of(Exec& ex, kernels::rule_list<Rules...>, int rule, const void* params, const float* x,
                            const float* y, const float* dy, float* dx, long count) {
  int i = 0;
  (void)((i++ == rule &&
          (activation_backward_with(ex, *static_cast<const Rules*>(params), x, y, dy, dx, count), true)) ||
         ...);
}
template <class Exec>
void run_activation_forward(Exec& ex, int rule, const void* params, const float* x, float* y, long count) {
  activation_forward_of(ex, kernels::activation_rule_list{}, rule, params, x, y, count);
}
template <class Exec>
void run_activation_backward(Exec& ex, int rule, const void* params, const float* x, const float* y, const float* dy,
                             float* dx, long count) {
  activation_backward_of(ex, kernels::activation_rule_list{}, rule, params, x, y, dy, dx, count);
}

template <class Exec>
void dropout_forward(Exec& ex, const float* x, float* y, long count, uint64_t seed, uint32_t threshold, float scale,
                     long first) {
  ex.for_each(count,
              [=] FERNET_LAMBDA(long i) { y[i] = dropout_keeps(seed, first + i, threshold) ? x[i] * scale : 0.f; });
}

template <class Exec>
void dropout_backward(Exec& ex, const float* dy, float* dx, long count, uint64_t seed, uint32_t threshold, float scale,
                      long first) {
  ex.for_each(count,
              [=] FERNET_LAMBDA(long i) { dx[i] = dropout_keeps(seed, first + i, threshold) ? dy[i] * scale : 0.f; });
}

// Batch statistics per channel (training: two passes, and the running statistics move by
// `momentum`, the variance with Bessel's correction) or the running ones (evaluation).
template <class Exec>
void batchnorm_statistics(Exec& ex, const float* x, int n, int channels, long plane, bool training, double momentum,
                          double eps, float* running, float* mean, float* invstd) {
  const long count = n * plane;
  if (!training) {
    ex.for_each(channels, [=] FERNET_LAMBDA(long c) {
      mean[c] = running[c];
      invstd[c] = static_cast<float>(1.0 / sqrt(static_cast<double>(running[channels + c]) + eps));
    });
    return;
  }
  ex.segment_sums(
      channels, count,
      [=] FERNET_LAMBDA(long c, long j) {
        return static_cast<double>(x[channel_element(static_cast<int>(c), j, channels, plane)]);
      },
      [=] FERNET_LAMBDA(long c, double s) { mean[c] = static_cast<float>(s / count); });
  ex.segment_sums(
      channels, count,
      [=] FERNET_LAMBDA(long c, long j) {
        const double dev = x[channel_element(static_cast<int>(c), j, channels, plane)] - mean[c];
        return dev * dev;
      },
      [=] FERNET_LAMBDA(long c, double ss) {
        const double var = ss / count;
        const double unbiased = count > 1 ? var * count / (count - 1) : var;
        running[c] = static_cast<float>((1 - momentum) * running[c] + momentum * mean[c]);
        running[channels + c] = static_cast<float>((1 - momentum) * running[channels + c] + momentum * unbiased);
        invstd[c] = static_cast<float>(1.0 / sqrt(var + eps));
      });
}

// y = gamma * (x - mean) * invstd + beta; gamma_beta holds gamma then beta.
template <class Exec>
void batchnorm_apply(Exec& ex, const float* x, int n, int channels, long plane, const float* gamma_beta,
                     const float* mean, const float* invstd, float* y) {
  ex.for_each(static_cast<long>(n) * channels * plane, [=] FERNET_LAMBDA(long i) {
    const int c = static_cast<int>((i / plane) % channels);
    y[i] = (x[i] - mean[c]) * invstd[c] * gamma_beta[c] + gamma_beta[channels + c];
  });
}

// Adds d(gamma), d(beta) to grads and writes dx (when not null). sums: 2 x channels scratch.
template <class Exec>
void batchnorm_backward(Exec& ex, const float* x, const float* dy, int n, int channels, long plane,
                        const float* gamma_beta, const float* mean, const float* invstd, bool training, float* grads,
                        float* sums, float* dx) {
  const long count = n * plane;
  ex.segment_sums(
      channels, count,
      [=] FERNET_LAMBDA(long c, long j) {
        return static_cast<double>(dy[channel_element(static_cast<int>(c), j, channels, plane)]);
      },
      [=] FERNET_LAMBDA(long c, double s) {
        sums[c] = static_cast<float>(s);
        grads[channels + c] += static_cast<float>(s);
      });
  ex.segment_sums(
      channels, count,
      [=] FERNET_LAMBDA(long c, long j) {
        const long e = channel_element(static_cast<int>(c), j, channels, plane);
        return static_cast<double>(dy[e]) * (x[e] - mean[c]);
      },
      [=] FERNET_LAMBDA(long c, double s) {
        const float v = static_cast<float>(s * invstd[c]);
        sums[channels + c] = v;
        grads[c] += v;
      });
  if (!dx) return;
  ex.for_each(count * channels, [=] FERNET_LAMBDA(long i) {
    const int c = static_cast<int>((i / plane) % channels);
    const float k = gamma_beta[c] * invstd[c];
    if (training) {
      const float xhat = (x[i] - mean[c]) * invstd[c];
      dx[i] = k * (dy[i] - sums[c] / count - xhat * (sums[channels + c] / count));
    } else {
      dx[i] = k * dy[i];
    }
  });
}

template <class Exec>
void global_avg_forward(Exec& ex, const float* x, long planes, long plane, float* y) {
  ex.segment_sums(
      planes, plane, [=] FERNET_LAMBDA(long p, long j) { return static_cast<double>(x[p * plane + j]); },
      [=] FERNET_LAMBDA(long p, double s) { y[p] = static_cast<float>(s / plane); });
}

template <class Exec>
void global_avg_backward(Exec& ex, const float* dy, long planes, long plane, float* dx) {
  ex.for_each(planes * plane, [=] FERNET_LAMBDA(long i) { dx[i] = dy[i / plane] / static_cast<float>(plane); });
}

template <class Exec>
void add(Exec& ex, const float* a, const float* b, float* y, long count) {
  ex.for_each(count, [=] FERNET_LAMBDA(long i) { y[i] = a[i] + b[i]; });
}

template <class Exec>
void add_inplace(Exec& ex, float* y, const float* a, long count) {
  ex.for_each(count, [=] FERNET_LAMBDA(long i) { y[i] += a[i]; });
}

template <class Exec>
void log_softmax_forward(Exec& ex, const float* x, float* y, long rows, int k) {
  ex.for_each(rows, [=] FERNET_LAMBDA(long r) { log_softmax_row(x + r * k, y + r * k, k); });
}

template <class Exec>
void log_softmax_backward(Exec& ex, const float* y, const float* dy, float* dx, long rows, int k) {
  ex.for_each(rows, [=] FERNET_LAMBDA(long r) { log_softmax_grad_row(y + r * k, dy + r * k, dx + r * k, k); });
}

// Mean-reduced loss over n samples (smoothing: label smoothing, loss_row's): writes grad (n x k); result[0] = summed loss,
// result[1] = number of correct predictions. scratch: 2 * n floats.
template <class Exec>
void loss(Exec& ex, const float* out, const int* labels, int n, int k, bool log_probs, float smoothing, float* grad,
          float* scratch, float* result) {
  ex.for_each(n, [=] FERNET_LAMBDA(long r) {
    scratch[r] = loss_row(out + r * k, labels[r], k, n, log_probs, grad + r * k, smoothing);
    scratch[n + r] = argmax_of_row(out + r * k, k) == labels[r] ? 1.f : 0.f;
  });
  ex.segment_sums(
      2, n, [=] FERNET_LAMBDA(long seg, long r) { return static_cast<double>(scratch[seg * n + r]); },
      [=] FERNET_LAMBDA(long seg, double s) { result[seg] = static_cast<float>(s); });
}

template <class Exec>
void sgd_step(Exec& ex, float* p, const float* g, float* buf, long count, SgdStep o) {
  ex.for_each(count, [=] FERNET_LAMBDA(long i) { sgd_at(p, g, buf, i, o); });
}

template <class Exec>
void adam_step(Exec& ex, float* p, const float* g, float* m, float* v, long count, AdamStep o) {
  ex.for_each(count, [=] FERNET_LAMBDA(long i) { adam_at(p, g, m, v, i, o); });
}

}  // namespace fernet::device::ops
