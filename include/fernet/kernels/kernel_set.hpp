#pragma once
// Which instruction set the hot kernels run with, and the run-time choice that makes one binary
// fit every x86-64 processor.
//
// A normal build compiles every kernel for the flags of the build (FERNET_ARCH_FLAGS, e.g.
// -march=native): the kernels this translation unit was compiled for are the ones that run. A
// build with FERNET_DISPATCH (CMake option, target fernet::dispatch) compiles the library for
// the x86-64 baseline and, beside it, the dispatched kernels three times, for x86-64-v4
// (AVX-512), x86-64-v3 (AVX2 + FMA) and the baseline (dispatch/kernel_set.cpp); each copy lives
// in its own namespace (simd.hpp's FERNET_ISA) and publishes a KernelSet. At the first call
// the best set this processor and operating system support is chosen, once per process.
#include <cstddef>
#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>

#include "../simd.hpp"

namespace fernet::kernels {

enum class Trans : bool { no = false, yes = true };

// The constants of one optimiser step's per-parameter rule (element_rules.hpp).
struct AdamStep;
struct SgdStep;
struct WindowGeometry;

// The kernels of one instruction-set level: each is the NAME_simd function of the header named.
struct KernelSet {
  const char* name;  // "avx512", "avx2+fma" or "baseline"
  // gemm.hpp: C[M x N] = alpha * op(A) * op(B) + beta * C, row-major.
  void (*gemm)(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
               float beta, float* C, int ldc);
  // half.hpp: Y[n x out] = X[n x in] W^T with W stored as IEEE halves.
  void (*linear_half)(int n, int out, int in, const float* x, const std::uint16_t* w, float* y);
  // elementwise.hpp
  void (*relu_forward)(const float* x, float* y, std::ptrdiff_t n);
  void (*relu_backward)(const float* y, const float* dy, float* dx, std::ptrdiff_t n);
  void (*add_inplace)(float* y, const float* x, std::ptrdiff_t n);
  void (*add)(const float* a, const float* b, float* y, std::ptrdiff_t n);
  float (*sum)(const float* x, std::ptrdiff_t n);
  void (*dropout_forward)(const float* x, float* y, std::ptrdiff_t count, std::uint64_t seed, std::uint32_t threshold,
                          float scale, std::ptrdiff_t first);
  void (*dropout_backward)(const float* dy, float* dx, std::ptrdiff_t count, std::uint64_t seed,
                           std::uint32_t threshold, float scale, std::ptrdiff_t first);
  // updates.hpp: one optimiser step over `count` parameters.
  void (*adam_update)(float* p, const float* g, float* m, float* v, std::ptrdiff_t count, const AdamStep& rule);
  void (*sgd_update)(float* p, const float* g, float* buffer, std::ptrdiff_t count, const SgdStep& rule);
  // im2col.hpp: stride-1 im2col / col2im of one sample with a square window; false where
  // this level has no such form (the caller then runs its own).
  bool (*im2col_stride1)(const float* x, const WindowGeometry& g, float* col, std::ptrdiff_t ld);
  bool (*col2im_stride1)(const float* col, const WindowGeometry& g, float* dx, std::ptrdiff_t ld);
  // direct_conv.hpp: stride-1 convolution forward without padding; false where it does not apply.
  bool (*direct_conv_forward)(const float* x, const float* w, const float* bias, float* y, int n, int cout,
                              const WindowGeometry& g);
  // conv_relu_pool.hpp: the one-channel convolution, a 2x2/2 max pooling of its output and the
  // ReLU; its parameter gradients. False where it does not apply.
  bool (*direct_conv_relu_pool_forward)(const float* x, const float* w, const float* bias, float* y, int* argmax, int n,
                                        int cout, const WindowGeometry& conv, const WindowGeometry& pool);
  bool (*direct_conv_relu_pool_backward)(const float* x, const float* y, const float* dy, const int* argmax, float* dw,
                                         float* db, int n, int cout, const WindowGeometry& conv,
                                         const WindowGeometry& pool);
  // pooling.hpp: 2x2/2 max pooling of `planes` planes, window values and argmax.
  void (*max_pool_2x2_forward)(const float* x, float* y, int* argmax, long planes, const WindowGeometry& g);
  void (*max_pool_2x2_backward)(const float* dy, const int* argmax, float* dx, long planes, const WindowGeometry& g);
  // Forward of windows inside the plane (pooling.hpp lists which); false for others.
  bool (*max_pool_window_forward)(const float* x, float* y, int* argmax, long planes, const WindowGeometry& g);
  // batchnorm.hpp: one channel's n planes, stride floats apart.
  void (*batchnorm_statistics)(const float* x, std::ptrdiff_t stride, int n, int plane, double* mean, double* var);
  void (*batchnorm_scale_shift)(const float* x, float* y, std::ptrdiff_t stride, int n, int plane, float scale,
                                float shift);
  void (*batchnorm_backward_sums)(const float* x, const float* dy, std::ptrdiff_t stride, int n, int plane, float mean,
                                  double* sum_dy, double* sum_dy_centered);
  void (*batchnorm_backward_input)(const float* x, const float* dy, float* dx, std::ptrdiff_t stride, int n, int plane,
                                   float mean, float invstd, float gi, float k1, float k2);
};

// Kernel NAME as a program calls it: in a FERNET_DISPATCH build the one of the set chosen at run
// time, otherwise NAME_simd of this translation unit (whose flags are the build's).
#ifdef FERNET_KERNEL_DISPATCH
#define FERNET_KERNEL(name) ::fernet::kernels::active_kernel_set().name
#else
#define FERNET_KERNEL(name) name##_simd
#endif

// This translation unit's level, as KernelSet::name spells it.
inline namespace FERNET_ISA {
inline constexpr const char* compiled_isa_name() { return FERNET_ISA_NAME; }
}  // namespace FERNET_ISA

#ifdef FERNET_KERNEL_DISPATCH
// Defined once each by the fernet::dispatch library (dispatch/kernel_set.cpp).
namespace isa_avx512 {
extern const KernelSet kernel_set;
}
namespace isa_avx2 {
extern const KernelSet kernel_set;
}
namespace isa_base {
extern const KernelSet kernel_set;
}

namespace detail {
// The best set the processor supports. __builtin_cpu_supports also asks whether the operating
// system saves the AVX and AVX-512 registers (XGETBV), which xsimd 8's CPUID test does not.
// FERNET_KERNELS=avx2+fma|baseline (environment) picks a lower set, for tests and comparisons;
// a set the processor lacks, or an unknown name, is refused with a message.
inline const KernelSet& choose_kernel_set() {
  __builtin_cpu_init();
  const KernelSet* sets[] = {&isa_avx512::kernel_set, &isa_avx2::kernel_set, &isa_base::kernel_set};
  const bool supported[] = {__builtin_cpu_supports("x86-64-v4") > 0, __builtin_cpu_supports("x86-64-v3") > 0, true};
  const char* wanted = std::getenv("FERNET_KERNELS");
  const bool named = wanted && *wanted;
  for (int i = 0; i < 3; ++i)
    if (supported[i] && (!named || std::strcmp(wanted, sets[i]->name) == 0)) return *sets[i];
  // Only a name can miss: the baseline is always supported.
  std::fprintf(stderr, "fernet: FERNET_KERNELS=%s: not one of avx512, avx2+fma, baseline that this processor runs\n",
               wanted);
  std::exit(2);
}
}  // namespace detail

inline const KernelSet& active_kernel_set() {
  static const KernelSet& chosen = detail::choose_kernel_set();
  return chosen;
}
#endif

// The name of the kernel set that runs (KernelSet::name), in either kind of build.
inline const char* active_kernel_set_name() {
#ifdef FERNET_KERNEL_DISPATCH
  return active_kernel_set().name;
#else
  return compiled_isa_name();
#endif
}

// What fernet info, report.json and the training banner print: the kernel set that runs, and
// whether it was chosen at run time or fixed by the build's flags.
inline std::string kernel_set_description() {
#ifdef FERNET_KERNEL_DISPATCH
  return std::string(active_kernel_set().name) + " (chosen at run time; the rest of the program: " +
         compiled_isa_name() + ")";
#else
  return std::string(compiled_isa_name()) + " (fixed at build time)";
#endif
}

}  // namespace fernet::kernels
