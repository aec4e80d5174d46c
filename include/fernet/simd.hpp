#pragma once
// The one place that knows about SIMD: the xsimd batch type of this translation unit, the
// architecture name reported at run time, and the switch between the vectorised and the plain
// scalar path (the scalar path exists so that tests can check that both agree, and benchmarks
// can compare).
#include <atomic>
#include <string>
#include <xsimd/xsimd.hpp>

// The instruction-set level this translation unit is compiled for, as a namespace name. Code
// whose instructions depend on it lives in the inline namespace fernet::FERNET_ISA, so that one
// program can link translation units compiled for several levels (the run-time choice of
// kernels/kernel_set.hpp) without the linker merging their same-named copies. The levels are
// x86-64's: v4 (AVX-512 F/BW/DQ/VL/CD), v3 (AVX2 + FMA) and anything below. FERNET_ISA_NAME is
// the level as the kernel sets are named (kernels/kernel_set.hpp, FERNET_KERNELS).
#if defined(__AVX512F__) && defined(__AVX512BW__) && defined(__AVX512DQ__) && defined(__AVX512VL__)
#define FERNET_ISA isa_avx512
#define FERNET_ISA_NAME "avx512"
#elif defined(__AVX2__) && defined(__FMA__)
#define FERNET_ISA isa_avx2
#define FERNET_ISA_NAME "avx2+fma"
#else
#define FERNET_ISA isa_base
#define FERNET_ISA_NAME "baseline"
#endif

namespace fernet {
inline namespace FERNET_ISA {

using simd_batch = xsimd::batch<float>;
inline constexpr std::size_t simd_width = simd_batch::size;

// Name of the instruction set xsimd compiled for in this translation unit, e.g. "avx512bw".
inline std::string simd_arch() { return std::string(xsimd::default_arch::name()); }

}  // namespace FERNET_ISA

namespace detail {
inline std::atomic<bool>& simd_enabled_flag() {
  static std::atomic<bool> flag{true};
  return flag;
}
}  // namespace detail

// Select the vectorised kernels (default) or their plain scalar twins, process-wide.
inline void use_simd(bool on) { detail::simd_enabled_flag().store(on, std::memory_order_relaxed); }
inline bool simd_enabled() { return detail::simd_enabled_flag().load(std::memory_order_relaxed); }

}  // namespace fernet
