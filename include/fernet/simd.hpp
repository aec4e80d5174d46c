#pragma once
// The one place that knows about SIMD: the xsimd batch type of this build, the architecture
// name reported at run time, and the switch between the vectorised and the plain scalar path
// (the scalar path exists so that tests can check that both agree, and benchmarks can compare).
#include <atomic>
#include <string>
#include <xsimd/xsimd.hpp>

namespace fernet {

using simd_batch = xsimd::batch<float>;
inline constexpr std::size_t simd_width = simd_batch::size;

// Name of the instruction set xsimd compiled for in this translation unit, e.g. "avx512bw".
inline std::string simd_arch() { return std::string(xsimd::default_arch::name()); }

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
