// The CUDA backend: device::ExecBackend over a CUDA executor (device/ops.hpp's two primitives
// as kernels), cuBLAS for the matrix product, memory on one device and one stream.
//
// Every runtime and cuBLAS call and every kernel launch is checked; a failure throws
// device::DeviceError naming the call, the source line and the runtime's reason. All work of a
// backend runs in order on its own (non-blocking) stream; download() waits for it.
#include <cublas_v2.h>
#include <cuda_runtime.h>

#include <algorithm>
#include <cstdio>
#include <string>

#include "fernet/device/cuda_backend.hpp"
#include "fernet/device/exec_backend.hpp"

namespace fernet::cuda {
namespace detail {

[[noreturn]] void fail(const char* call, const char* file, int line, const std::string& reason) {
  throw device::DeviceError(std::string("fernet: ") + call + " failed at " + file + ":" + std::to_string(line) + ": " +
                            reason);
}

std::string reason(cudaError_t e) { return std::string(cudaGetErrorName(e)) + " (" + cudaGetErrorString(e) + ")"; }

void check(cudaError_t e, const char* call, const char* file, int line) {
  if (e != cudaSuccess) {
    (void)cudaGetLastError();  // clear a non-sticky error so that it is not reported again later
    fail(call, file, line, reason(e));
  }
}

void check(cublasStatus_t s, const char* call, const char* file, int line) {
  if (s != CUBLAS_STATUS_SUCCESS)
    fail(call, file, line, std::string(cublasGetStatusName(s)) + " (" + cublasGetStatusString(s) + ")");
}

#define FERNET_CUDA_CHECK(call) ::fernet::cuda::detail::check((call), #call, __FILE__, __LINE__)
// After a kernel launch: a bad configuration shows up in cudaGetLastError.
#define FERNET_CUDA_CHECK_LAUNCH(kernel) \
  ::fernet::cuda::detail::check(cudaGetLastError(), "launch of " kernel, __FILE__, __LINE__)

constexpr int kThreads = 256;  // both kernels: a multiple of the warp size, at most 1024

// f(i) for every i < total; a capped grid strides over the range.
template <class F>
__global__ void for_each_kernel(long total, F f) {
  const long stride = static_cast<long>(gridDim.x) * blockDim.x;
  for (long i = static_cast<long>(blockIdx.x) * blockDim.x + threadIdx.x; i < total; i += stride) f(i);
}

// One block per segment (the grid strides over segments when there are more than blocks):
// the threads stride over j accumulating doubles, then a warp-shuffle and shared-memory
// reduction; thread 0 stores. The summation order depends only on the block size, so the
// result is deterministic.
template <class V, class S>
__global__ void segment_sums_kernel(long segments, long length, V value, S store) {
  __shared__ double warp_sums[kThreads / 32];
  const int lane = threadIdx.x % 32, warp = threadIdx.x / 32;
  for (long seg = blockIdx.x; seg < segments; seg += gridDim.x) {
    double sum = 0.0;
    for (long j = threadIdx.x; j < length; j += blockDim.x) sum += value(seg, j);
    for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
    if (lane == 0) warp_sums[warp] = sum;
    __syncthreads();
    if (warp == 0) {
      sum = lane < kThreads / 32 ? warp_sums[lane] : 0.0;
      for (int offset = 16; offset > 0; offset /= 2) sum += __shfl_down_sync(0xffffffffu, sum, offset);
      if (lane == 0) store(seg, sum);
    }
    __syncthreads();  // warp_sums is reused by the next segment
  }
}

// The executor of device/ops.hpp: its primitives as kernels on the backend's stream.
struct CudaExec {
  cudaStream_t stream = nullptr;
  int max_blocks = 1;  // grid cap (a multiple of the multiprocessor count), set by the backend

  template <class F>
  void for_each(long total, F f) {
    if (total <= 0) return;
    const long blocks = std::min<long>((total + kThreads - 1) / kThreads, max_blocks);
    for_each_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(total, f);
    FERNET_CUDA_CHECK_LAUNCH("for_each_kernel");
  }

  template <class V, class S>
  void segment_sums(long segments, long length, V value, S store) {
    if (segments <= 0) return;  // length 0 still stores a zero sum per segment, like the host
    const long blocks = std::min<long>(segments, max_blocks);
    segment_sums_kernel<<<static_cast<unsigned>(blocks), kThreads, 0, stream>>>(segments, length, value, store);
    FERNET_CUDA_CHECK_LAUNCH("segment_sums_kernel");
  }
};

class CudaBackend final : public device::ExecBackend<CudaExec> {
 public:
  // The caller (make_backend) has made `index` the current device.
  explicit CudaBackend(int index) : index_(index) {
    cudaDeviceProp prop{};
    FERNET_CUDA_CHECK(cudaGetDeviceProperties(&prop, index));
    name_ = "cuda:" + std::to_string(index) + " (" + prop.name + ", sm_" + std::to_string(prop.major) +
            std::to_string(prop.minor) + ")";
    int sms = 0;
    FERNET_CUDA_CHECK(cudaDeviceGetAttribute(&sms, cudaDevAttrMultiProcessorCount, index));
    exec_.max_blocks = std::max(1, sms) * 32;

    FERNET_CUDA_CHECK(cudaStreamCreateWithFlags(&stream_, cudaStreamNonBlocking));
    try {
      FERNET_CUDA_CHECK(cublasCreate(&blas_));
      FERNET_CUDA_CHECK(cublasSetStream(blas_, stream_));
      FERNET_CUDA_CHECK(cublasSetPointerMode(blas_, CUBLAS_POINTER_MODE_HOST));
      // Plain FP32 (no TF32 tensor cores), so products match the CPU GEMM to rounding.
      FERNET_CUDA_CHECK(cublasSetMathMode(blas_, CUBLAS_DEFAULT_MATH));
    } catch (...) {
      release();
      throw;
    }
    exec_.stream = stream_;
  }
  CudaBackend(const CudaBackend&) = delete;
  CudaBackend& operator=(const CudaBackend&) = delete;
  ~CudaBackend() override { release(); }

  std::string name() const override { return name_; }
  int device() const { return index_; }

  void* allocate(std::size_t bytes) override {
    void* p = nullptr;
    FERNET_CUDA_CHECK(cudaMalloc(&p, bytes ? bytes : 1));
    return p;
  }
  void deallocate(void* p) noexcept override {
    if (!p) return;
    // cudaFree waits for the work in flight, so no kernel still uses the memory.
    const cudaError_t e = cudaFree(p);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      std::fprintf(stderr, "fernet: cudaFree failed on %s: %s\n", name_.c_str(), reason(e).c_str());
    }
  }
  // Pageable host memory is staged before cudaMemcpyAsync returns, so src may be reused at once
  // (pinned host memory would still be read in stream order: synchronize() before reusing it).
  void upload(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    FERNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyHostToDevice, stream_));
  }
  void download(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0) return;
    FERNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToHost, stream_));
    FERNET_CUDA_CHECK(cudaStreamSynchronize(stream_));
  }
  void copy(void* dst, const void* src, std::size_t bytes) override {
    if (bytes == 0 || dst == src) return;
    FERNET_CUDA_CHECK(cudaMemcpyAsync(dst, src, bytes, cudaMemcpyDeviceToDevice, stream_));
  }
  void zero(void* dst, std::size_t bytes) override {
    if (bytes == 0) return;
    FERNET_CUDA_CHECK(cudaMemsetAsync(dst, 0, bytes, stream_));
  }
  void synchronize() override { FERNET_CUDA_CHECK(cudaStreamSynchronize(stream_)); }

  // Row-major C = alpha op(A) op(B) + beta C is column-major C^T = alpha op(B)^T op(A)^T + beta C^T:
  // the same memory with the operands swapped.
  void gemm(bool trans_a, bool trans_b, int m, int n, int k, float alpha, const float* a, int lda, const float* b,
            int ldb, float beta, float* c, int ldc) override {
    if (m <= 0 || n <= 0) return;
    const cublasOperation_t ta = trans_a ? CUBLAS_OP_T : CUBLAS_OP_N;
    const cublasOperation_t tb = trans_b ? CUBLAS_OP_T : CUBLAS_OP_N;
    FERNET_CUDA_CHECK(cublasSgemm(blas_, tb, ta, n, m, k, &alpha, b, ldb, a, lda, &beta, c, ldc));
  }

 private:
  void release() noexcept {
    if (blas_) {
      const cublasStatus_t s = cublasDestroy(blas_);
      if (s != CUBLAS_STATUS_SUCCESS)
        std::fprintf(stderr, "fernet: cublasDestroy failed on %s: %s\n", name_.c_str(), cublasGetStatusName(s));
      blas_ = nullptr;
    }
    if (stream_) {
      const cudaError_t e = cudaStreamDestroy(stream_);
      if (e != cudaSuccess) {
        (void)cudaGetLastError();
        std::fprintf(stderr, "fernet: cudaStreamDestroy failed on %s: %s\n", name_.c_str(), reason(e).c_str());
      }
      stream_ = nullptr;
    }
  }

  int index_;
  std::string name_;
  cudaStream_t stream_ = nullptr;
  cublasHandle_t blas_ = nullptr;
};

}  // namespace detail

int device_count(std::string* why) {
  int count = 0;
  const cudaError_t e = cudaGetDeviceCount(&count);
  if (e != cudaSuccess) {
    (void)cudaGetLastError();
    if (why) *why = "cudaGetDeviceCount: " + detail::reason(e);
    return 0;
  }
  if (count == 0 && why) *why = "cudaGetDeviceCount: no device";
  return count;
}

std::string devices_report() {
  std::string why;
  const int count = device_count(&why);
  if (count == 0) return "no CUDA device (" + why + ")\n";
  std::string out;
  for (int i = 0; i < count; ++i) {
    cudaDeviceProp prop{};
    const cudaError_t e = cudaGetDeviceProperties(&prop, i);
    if (e != cudaSuccess) {
      (void)cudaGetLastError();
      out += "cuda:" + std::to_string(i) + " unusable (cudaGetDeviceProperties: " + detail::reason(e) + ")\n";
      continue;
    }
    const double gib = static_cast<double>(prop.totalGlobalMem) / (1024.0 * 1024.0 * 1024.0);
    char mem[32];
    std::snprintf(mem, sizeof mem, "%.0f GiB", gib);
    out += "cuda:" + std::to_string(i) + " " + prop.name + ", sm_" + std::to_string(prop.major) +
           std::to_string(prop.minor) + ", " + mem + ", " + std::to_string(prop.multiProcessorCount) +
           " multiprocessors\n";
  }
  return out;
}

std::unique_ptr<device::Backend> make_backend(int index) {
  std::string why;
  const int count = device_count(&why);
  if (count == 0) throw device::DeviceError("fernet: no CUDA device available (" + why + ")");
  if (index < 0 || index >= count)
    throw device::DeviceError("fernet: CUDA device " + std::to_string(index) + " requested but only " +
                              std::to_string(count) + " present");
  FERNET_CUDA_CHECK(cudaSetDevice(index));
  return std::make_unique<detail::CudaBackend>(index);
}

}  // namespace fernet::cuda
