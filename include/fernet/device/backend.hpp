#pragma once
// A device backend: memory on the device and the operations the layers run there. Layers and
// models (device/layers.hpp, device/model.hpp) are ordinary C++ compiled by the host compiler;
// they reach the device only through this interface, so a CUDA build keeps every kernel in
// cuda/ (compiled by nvcc) and a CPU-only build still compiles and tests the device code path
// on the host backend (device/host_backend.hpp).
//
// All pointers handed to the operations are device pointers of this backend. Matrices are
// row-major, as in fernet::kernels::gemm.
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <utility>

#include "element_kernels.hpp"

namespace fernet::device {

// A device call failed (the message names the call and the driver's reason).
struct DeviceError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

class Backend {
 public:
  virtual ~Backend() = default;
  virtual std::string name() const = 0;  // "cuda:0 (NVIDIA H200, sm_90)", "host"

  // ---- memory ----
  virtual void* allocate(std::size_t bytes) = 0;
  virtual void deallocate(void* p) noexcept = 0;
  virtual void upload(void* dst, const void* src, std::size_t bytes) = 0;    // host -> device
  virtual void download(void* dst, const void* src, std::size_t bytes) = 0;  // device -> host (waits)
  virtual void copy(void* dst, const void* src, std::size_t bytes) = 0;      // device -> device
  virtual void zero(void* dst, std::size_t bytes) = 0;
  virtual void synchronize() = 0;

  // ---- dense algebra: C = alpha op(A) op(B) + beta C (row-major, like kernels::gemm) ----
  virtual void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda,
                    const float* b, int ldb, float beta, float* c, int ldc) = 0;

  // ---- layer operations (device/ops.hpp documents each) ----
  virtual void im2col(const float* x, const ConvDims& d, int samples, float* col) = 0;
  virtual void col2im(const float* col, const ConvDims& d, int samples, float* dx) = 0;
  virtual void channels_to_samples(const float* src, const float* bias, int n, int channels, long pixels, float* y) = 0;
  virtual void samples_to_channels(const float* src, int n, int channels, long pixels, float* dst) = 0;
  virtual void accumulate_row_sums(const float* a, long rows, long cols, float* acc) = 0;
  virtual void accumulate_column_sums(const float* a, long rows, long cols, float* acc) = 0;
  virtual void add_row_bias(float* y, const float* bias, long rows, long cols) = 0;
  virtual void relu_forward(const float* x, float* y, long count) = 0;
  virtual void relu_backward(const float* y, const float* dy, float* dx, long count) = 0;
  virtual void maxpool_forward(const float* x, const PoolDims& d, long planes, float* y, int* argmax) = 0;
  virtual void maxpool_backward(const float* dy, const int* argmax, const PoolDims& d, long planes, float* dx) = 0;
  virtual void dropout_forward(const float* x, float* y, long count, std::uint64_t seed, std::uint32_t threshold,
                               float scale) = 0;
  virtual void dropout_backward(const float* dy, float* dx, long count, std::uint64_t seed, std::uint32_t threshold,
                                float scale) = 0;
  virtual void batchnorm_statistics(const float* x, int n, int channels, long plane, bool training, double momentum,
                                    double eps, float* running, float* mean, float* invstd) = 0;
  virtual void batchnorm_apply(const float* x, int n, int channels, long plane, const float* gamma_beta,
                               const float* mean, const float* invstd, float* y) = 0;
  virtual void batchnorm_backward(const float* x, const float* dy, int n, int channels, long plane,
                                  const float* gamma_beta, const float* mean, const float* invstd, bool training,
                                  float* grads, float* sums, float* dx) = 0;
  virtual void global_avg_forward(const float* x, long planes, long plane, float* y) = 0;
  virtual void global_avg_backward(const float* dy, long planes, long plane, float* dx) = 0;
  virtual void add(const float* a, const float* b, float* y, long count) = 0;
  virtual void add_inplace(float* y, const float* a, long count) = 0;
  virtual void log_softmax_forward(const float* x, float* y, long rows, int k) = 0;
  virtual void log_softmax_backward(const float* y, const float* dy, float* dx, long rows, int k) = 0;
  virtual void loss(const float* out, const int* labels, int n, int k, bool log_probs, float* grad, float* scratch,
                    float* result) = 0;
  virtual void sgd_step(float* p, const float* g, float* buf, long count, const SgdStep& o) = 0;
  virtual void adam_step(float* p, const float* g, float* m, float* v, long count, const AdamStep& o) = 0;
};

// An array in a backend's memory. It only grows (resize keeps the allocation when it fits),
// so the buffers of a training loop are allocated once, in the first step.
template <class T>
class DeviceArray {
 public:
  DeviceArray() = default;
  explicit DeviceArray(Backend& be, std::size_t n = 0) : be_(&be) { resize(n); }
  DeviceArray(DeviceArray&& o) noexcept
      : be_(o.be_), p_(std::exchange(o.p_, nullptr)), n_(std::exchange(o.n_, 0)), cap_(std::exchange(o.cap_, 0)) {}
  DeviceArray& operator=(DeviceArray&& o) noexcept {
    if (this != &o) {
      release();
      be_ = o.be_;
      p_ = std::exchange(o.p_, nullptr);
      n_ = std::exchange(o.n_, 0);
      cap_ = std::exchange(o.cap_, 0);
    }
    return *this;
  }
  DeviceArray(const DeviceArray&) = delete;
  DeviceArray& operator=(const DeviceArray&) = delete;
  ~DeviceArray() { release(); }

  void attach(Backend& be) { be_ = &be; }
  void resize(std::size_t n) {
    if (n > cap_) {
      release();
      p_ = static_cast<T*>(be_->allocate(n * sizeof(T)));
      cap_ = n;
    }
    n_ = n;
  }
  void zero() { if (n_) be_->zero(p_, n_ * sizeof(T)); }
  void upload(const T* host, std::size_t n) { resize(n); if (n) be_->upload(p_, host, n * sizeof(T)); }
  void download(T* host) const { if (n_) be_->download(host, p_, n_ * sizeof(T)); }

  T* data() { return p_; }
  const T* data() const { return p_; }
  std::size_t size() const { return n_; }

 private:
  void release() noexcept {
    if (p_) be_->deallocate(p_);
    p_ = nullptr;
    n_ = cap_ = 0;
  }
  Backend* be_ = nullptr;
  T* p_ = nullptr;
  std::size_t n_ = 0, cap_ = 0;
};

}  // namespace fernet::device
