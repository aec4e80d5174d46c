#pragma once
// The per-element rules shared by the CPU kernels and the device backends: each function
// computes ONE output value (or one row, or one parameter's update) from an index. A CUDA
// kernel calls them once per thread, the host backend in a loop, and the CPU layers, losses
// and optimisers call the same functions where they do not have a vectorised form (scalar
// tails, rows), so each rule has one definition.
// Plain C only (math.h, no std::): these compile for the device with nvcc.
#include <math.h>
#include <stdint.h>

#include "../host_device.hpp"
#include "../random.hpp"
#include "geometry.hpp"

namespace fernet::kernels {

// ---- convolution layouts ------------------------------------------------------------------
// im2col of `samples` samples side by side: col is rows() x (samples * pixels()); entry i.
FERNET_HD float im2col_at(const float* x, const WindowGeometry& d, int samples, long i) {
  const long cols = samples * d.pixels();
  const long r = i / cols, q = i % cols;
  const int c = static_cast<int>(r / (d.kh * d.kw));
  const int ki = static_cast<int>((r / d.kw) % d.kh), kj = static_cast<int>(r % d.kw);
  const long s = q / d.pixels();
  const int p = static_cast<int>(q % d.pixels());
  const int ih = (p / d.out_w) * d.stride - d.pad_top + ki;
  const int iw = (p % d.out_w) * d.stride - d.pad_left + kj;
  if (ih < 0 || ih >= d.height || iw < 0 || iw >= d.width) return 0.f;
  return x[((s * d.channels + c) * d.height + ih) * d.width + iw];
}

// The inverse scatter as a gather: input-gradient entry i (samples x cin x h x w) sums the
// column entries that read that pixel. No atomics, so the result is deterministic.
FERNET_HD float col2im_at(const float* col, const WindowGeometry& d, int samples, long i) {
  const long ld = samples * d.pixels();
  const int iw = static_cast<int>(i % d.width);
  const int ih = static_cast<int>((i / d.width) % d.height);
  const int c = static_cast<int>((i / (static_cast<long>(d.width) * d.height)) % d.channels);
  const long s = i / (static_cast<long>(d.width) * d.height * d.channels);
  float sum = 0.f;
  for (int ki = 0; ki < d.kh; ++ki) {
    const int th = ih + d.pad_top - ki;
    if (th < 0 || th % d.stride != 0) continue;
    const int oh = th / d.stride;
    if (oh >= d.out_h) continue;
    for (int kj = 0; kj < d.kw; ++kj) {
      const int tw = iw + d.pad_left - kj;
      if (tw < 0 || tw % d.stride != 0) continue;
      const int ow = tw / d.stride;
      if (ow >= d.out_w) continue;
      const long row = (static_cast<long>(c) * d.kh + ki) * d.kw + kj;
      sum += col[row * ld + s * d.pixels() + static_cast<long>(oh) * d.out_w + ow];
    }
  }
  return sum;
}

// A product laid out channels x (samples, pixels) -> NCHW, plus an optional per-channel bias.
FERNET_HD float channels_to_samples_at(const float* src, const float* bias, int n, int channels, long pixels, long i) {
  const long p = i % pixels;
  const int c = static_cast<int>((i / pixels) % channels);
  const long s = i / (pixels * channels);
  const float v = src[c * (n * pixels) + s * pixels + p];
  return bias ? v + bias[c] : v;
}

// NCHW -> channels x (samples, pixels): the layout of the forward product, for the backward.
FERNET_HD float samples_to_channels_at(const float* src, int n, int channels, long pixels, long i) {
  const long cols = n * pixels;
  const int c = static_cast<int>(i / cols);
  const long r = i % cols;
  const long s = r / pixels, p = r % pixels;
  return src[(s * channels + c) * pixels + p];
}

// ---- pooling --------------------------------------------------------------------------------
// Max over the window of output i (planes x ho x wo); padding never wins (PyTorch), ties go to
// the first maximum in row-major window order, like the CPU layer.
FERNET_HD void maxpool_forward_at(const float* x, const WindowGeometry& d, long i, float* y, int* argmax) {
  const long plane_out = static_cast<long>(d.out_h) * d.out_w;
  const long plane = i / plane_out;
  const int o = static_cast<int>(i % plane_out);
  const int h0 = (o / d.out_w) * d.stride - d.pad_top, w0 = (o % d.out_w) * d.stride - d.pad_left;
  const float* xp = x + plane * d.height * d.width;
  float best = -INFINITY;
  int arg = -1;
  for (int kh = 0; kh < d.kh; ++kh) {
    const int h = h0 + kh;
    if (h < 0 || h >= d.height) continue;
    for (int kw = 0; kw < d.kw; ++kw) {
      const int w = w0 + kw;
      if (w < 0 || w >= d.width) continue;
      const float v = xp[h * d.width + w];
      if (v > best || arg < 0) {
        best = v;
        arg = h * d.width + w;
      }
    }
  }
  y[i] = best;
  argmax[i] = arg;
}

// Input-gradient entry i (planes x h x w): the sum of dy over the windows whose maximum it was.
FERNET_HD float maxpool_backward_at(const float* dy, const int* argmax, const WindowGeometry& d, long i) {
  const long plane_in = static_cast<long>(d.height) * d.width;
  const long plane = i / plane_in;
  const int local = static_cast<int>(i % plane_in);
  const int ih = local / d.width, iw = local % d.width;
  const int nh = ih + d.pad_top - d.kh + 1, nw = iw + d.pad_left - d.kw + 1;
  const int oh_lo = nh <= 0 ? 0 : (nh + d.stride - 1) / d.stride;
  const int ow_lo = nw <= 0 ? 0 : (nw + d.stride - 1) / d.stride;
  int oh_hi = (ih + d.pad_top) / d.stride, ow_hi = (iw + d.pad_left) / d.stride;
  if (oh_hi > d.out_h - 1) oh_hi = d.out_h - 1;
  if (ow_hi > d.out_w - 1) ow_hi = d.out_w - 1;
  const long base = plane * d.out_h * d.out_w;
  float sum = 0.f;
  for (int oh = oh_lo; oh <= oh_hi; ++oh)
    for (int ow = ow_lo; ow <= ow_hi; ++ow) {
      const long o = base + static_cast<long>(oh) * d.out_w + ow;
      if (argmax[o] == local) sum += dy[o];
    }
  return sum;
}

// ---- element-wise ---------------------------------------------------------------------------
FERNET_HD float relu_at(float x) { return x > 0.f ? x : 0.f; }
FERNET_HD float relu_grad_at(float y, float dy) { return y > 0.f ? dy : 0.f; }

// Dropout keeps an element when 24 random bits of hash(seed, element index) fall below
// (1 - p) * 2^24: the mask is a function of (seed, index) only, so it does not depend on the
// thread count or the device, and backward recomputes it instead of storing it.
constexpr uint32_t dropout_threshold(float p) { return static_cast<uint32_t>((1.0 - p) * 16777216.0); }
FERNET_HD bool dropout_keeps(uint64_t seed, long i, uint32_t threshold) {
  return (hash64(seed, static_cast<uint64_t>(i)) >> 40) < threshold;
}

// Element (sample s, channel c, pixel k) of an NCHW tensor, with j = s * plane + k running
// over one channel's values: how batch norm's per-channel reductions walk the batch.
FERNET_HD long channel_element(int c, long j, int channels, long plane) {
  return ((j / plane) * channels + c) * plane + j % plane;
}

// ---- rows (one thread per sample: the class count is small) --------------------------------
FERNET_HD void log_softmax_row(const float* x, float* y, int k) {
  float m = x[0];
  for (int j = 1; j < k; ++j) m = x[j] > m ? x[j] : m;
  double sum = 0.0;
  for (int j = 0; j < k; ++j) sum += exp(static_cast<double>(x[j] - m));
  const float lse = m + static_cast<float>(log(sum));
  for (int j = 0; j < k; ++j) y[j] = x[j] - lse;
}

FERNET_HD void log_softmax_grad_row(const float* y, const float* dy, float* dx, int k) {
  double g = 0.0;
  for (int j = 0; j < k; ++j) g += dy[j];
  for (int j = 0; j < k; ++j) dx[j] = dy[j] - expf(y[j]) * static_cast<float>(g);
}

FERNET_HD int argmax_of_row(const float* row, int k) {
  int best = 0;
  for (int j = 1; j < k; ++j)
    if (row[j] > row[best]) best = j;
  return best;
}

// Label smoothing's target for class j of a row labelled `label`: (1 - eps) * one-hot + eps / k,
// as PyTorch's CrossEntropyLoss(label_smoothing=eps).
FERNET_HD double smoothed_target(int j, int label, int k, float eps) {
  return eps / k + (j == label ? 1.0 - eps : 0.0);
}

// Cross-entropy of one row against a target distribution: the row t when not null (mixup's
// blended labels), else the smoothed one-hot of label. Writes the gradient row (divided by the
// batch size n) and returns the loss. log_probs: z is log-probabilities (gradient -t / n), else
// raw scores with the log-softmax fused (gradient (p - t) / n).
FERNET_HD float soft_target_row(const float* z, const float* t, int label, float eps, int k, int n, bool log_probs,
                                float* grad) {
  double lse = 0.0;  // log-sum-exp of the scores; 0 for log-probabilities
  if (!log_probs) {
    float m = z[0];
    for (int j = 1; j < k; ++j) m = z[j] > m ? z[j] : m;
    double sum = 0.0;
    for (int j = 0; j < k; ++j) sum += exp(static_cast<double>(z[j] - m));
    lse = m + log(sum);
  }
  double loss = 0.0;
  for (int j = 0; j < k; ++j) {
    const double target = t ? t[j] : smoothed_target(j, label, k, eps);
    const double logp = z[j] - lse;
    loss -= target * logp;
    if (grad) grad[j] = static_cast<float>(((log_probs ? 0.0 : exp(logp)) - target) / n);
  }
  return static_cast<float>(loss);
}

// One sample of a loss: writes its gradient row (already divided by the batch size n) and
// returns its loss. log_probs: the input is log-probabilities (NLLLoss), else raw scores
// (CrossEntropyLoss, log-softmax fused). smoothing = eps > 0: label smoothing (soft_target_row
// against the smoothed one-hot); eps = 0 keeps the plain loss's arithmetic exactly.
FERNET_HD float loss_row(const float* z, int label, int k, int n, bool log_probs, float* grad, float smoothing = 0.f) {
  if (smoothing != 0.f) return soft_target_row(z, nullptr, label, smoothing, k, n, log_probs, grad);
  if (log_probs) {
    for (int j = 0; j < k; ++j) grad[j] = j == label ? -1.f / n : 0.f;
    return -z[label];
  }
  float m = z[0];
  for (int j = 1; j < k; ++j) m = z[j] > m ? z[j] : m;
  double sum = 0.0;
  for (int j = 0; j < k; ++j) sum += exp(static_cast<double>(z[j] - m));
  const double lse = m + log(sum);
  for (int j = 0; j < k; ++j) grad[j] = static_cast<float>((exp(z[j] - lse) - (j == label ? 1.0 : 0.0)) / n);
  return static_cast<float>(lse - z[label]);
}

// ---- optimisers (the CPU optimisers' scalar rules) ------------------------------------------
struct SgdStep {
  float lr, momentum, damp, weight_decay;  // damp = 1 - dampening
  bool first, nesterov;
};
FERNET_HD void sgd_at(float* p, const float* g, float* buf, long i, const SgdStep& o) {
  float d = g[i] + o.weight_decay * p[i];
  if (o.momentum != 0.f) {
    buf[i] = o.first ? d : o.momentum * buf[i] + o.damp * d;
    d = o.nesterov ? d + o.momentum * buf[i] : buf[i];
  }
  p[i] -= o.lr * d;
}

struct AdamStep {
  float step_size, inv_sqrt_bc2, beta1, beta2, eps, l2, shrink;
};
FERNET_HD void adam_at(float* p, const float* g, float* m, float* v, long i, const AdamStep& o) {
  const float pv = p[i] * o.shrink;
  const float d = g[i] + o.l2 * pv;
  m[i] = o.beta1 * m[i] + (1.f - o.beta1) * d;
  v[i] = o.beta2 * v[i] + (1.f - o.beta2) * d * d;
  const float denom = sqrtf(v[i]) * o.inv_sqrt_bc2 + o.eps;
  p[i] = pv - o.step_size * (m[i] / denom);
}

}  // namespace fernet::kernels
