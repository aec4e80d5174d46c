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

#include "../kernels/activation_rules.hpp"
#include "operations.hpp"

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

  // ---- layer operations: the list in operations.hpp (ops.hpp defines and documents each) ----
#define FERNET_DECLARE_OPERATION(name, params, ...) virtual void name params = 0;
  FERNET_DEVICE_OPERATIONS(FERNET_DECLARE_OPERATION)
#undef FERNET_DECLARE_OPERATION

  // Element-wise activations (kernels/activation_rules.hpp): the rule travels as its index in
  // kernels::activation_rule_list and its parameters, so every compiled backend runs it.
  template <class Rule>
  void activation_forward(const Rule& rule, const float* x, float* y, long count) {
    run_activation_forward(kernels::rule_index<Rule>, &rule, x, y, count);
  }
  template <class Rule>
  void activation_backward(const Rule& rule, const float* x, const float* y, const float* dy, float* dx, long count) {
    run_activation_backward(kernels::rule_index<Rule>, &rule, x, y, dy, dx, count);
  }
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
  void zero() {
    if (n_) be_->zero(p_, n_ * sizeof(T));
  }
  void upload(const T* host, std::size_t n) {
    resize(n);
    if (n) be_->upload(p_, host, n * sizeof(T));
  }
  void download(T* host) const {
    if (n_) be_->download(host, p_, n_ * sizeof(T));
  }

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
