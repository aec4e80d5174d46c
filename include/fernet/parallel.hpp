#pragma once
// Threading: OpenMP (Debian's libgomp with g++; libomp with clang) because every kernel here is
// a data-parallel loop and OpenMP gives that with one pragma and no pool of our own to maintain.
#include <omp.h>
#include <pmmintrin.h>
#include <xmmintrin.h>

namespace fernet {

// Number of threads used by every kernel (0 or negative: OpenMP's default).
inline void set_threads(int n) {
  if (n > 0) omp_set_num_threads(n);
}
inline int threads() { return omp_get_max_threads(); }

// Subnormal floats (Adam moments of dead units after a few hundred steps) slow x86 float
// arithmetic 5-8x. Flush-to-zero / denormals-are-zero is set on every thread that trains.
inline void flush_denormals() {
  _MM_SET_FLUSH_ZERO_MODE(_MM_FLUSH_ZERO_ON);
  _MM_SET_DENORMALS_ZERO_MODE(_MM_DENORMALS_ZERO_ON);
}
inline void flush_denormals_all_threads() {
#pragma omp parallel
  flush_denormals();
  flush_denormals();
}

}  // namespace fernet
