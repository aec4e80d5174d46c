#pragma once
// HostBackend: the device backend run on the CPU. Every operation executes the same code
// (device/ops.hpp, kernels/element_rules.hpp) as the CUDA backend, with OpenMP loops in place
// of kernel launches and fernet's CPU GEMM in place of cuBLAS. It exists to test the device
// code path (layers on DeviceExec, layouts, reductions, optimisers) on machines without a GPU; for
// speed on the CPU use the ordinary network (no backend).
#include <cstring>
#include <new>

#include "../kernels/gemm.hpp"
#include "exec_backend.hpp"

namespace fernet::device {

struct HostExec {
  template <class F>
  void for_each(long total, F f) {
#pragma omp parallel for schedule(static) if (total > (1 << 14))
    for (long i = 0; i < total; ++i) f(i);
  }
  template <class V, class S>
  void segment_sums(long segments, long length, V value, S store) {
#pragma omp parallel for schedule(static) if (segments * length > (1 << 14) && segments > 1)
    for (long s = 0; s < segments; ++s) {
      double sum = 0.0;
      for (long j = 0; j < length; ++j) sum += value(s, j);
      store(s, sum);
    }
  }
};

class HostBackend final : public ExecBackend<HostExec> {
 public:
  std::string name() const override { return "host (device code path emulated on the CPU)"; }

  void* allocate(std::size_t bytes) override { return ::operator new (bytes ? bytes : 1, std::align_val_t{64}); }
  void deallocate(void* p) noexcept override { ::operator delete (p, std::align_val_t{64}); }
  void upload(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void download(void* dst, const void* src, std::size_t bytes) override { std::memcpy(dst, src, bytes); }
  void copy(void* dst, const void* src, std::size_t bytes) override { std::memmove(dst, src, bytes); }
  void zero(void* dst, std::size_t bytes) override { std::memset(dst, 0, bytes); }
  void synchronize() override {}

  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
            int ldb, float beta, float* c, int ldc) override {
    using kernels::Trans;
    kernels::gemm(trans_a ? Trans::yes : Trans::no, trans_b ? Trans::yes : Trans::no, m, n, k, alpha, a, lda, b, ldb,
                  beta, c, ldc);
  }
};

}  // namespace fernet::device
