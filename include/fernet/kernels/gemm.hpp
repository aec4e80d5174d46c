#pragma once
// Single-precision matrix multiply, row-major, with the transposed variants the backward passes
// need:  C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C.
// op(A) is A (M x K, leading dimension lda >= K) or A^T (A stored K x M, lda >= M); same for B.
// Threaded with OpenMP unless called from inside a parallel region.
#include <algorithm>
#include <cstddef>
#include <vector>

#include "../parallel.hpp"
#include "../simd.hpp"

namespace fernet::kernels {

enum class Trans : bool { no = false, yes = true };

namespace detail {

inline float at(const float* X, int ld, Trans t, int r, int c) {
  return t == Trans::no ? X[static_cast<std::ptrdiff_t>(r) * ld + c]
                        : X[static_cast<std::ptrdiff_t>(c) * ld + r];
}

// Reference loop: also the "scalar path" of the library.
inline void gemm_scalar(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A,
                        int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  const bool par = !omp_in_parallel() && static_cast<long>(M) * N * K > 32768;
#pragma omp parallel for schedule(static) if (par)
  for (int i = 0; i < M; ++i) {
    float* c = C + static_cast<std::ptrdiff_t>(i) * ldc;
    for (int j = 0; j < N; ++j) c[j] = beta == 0.f ? 0.f : beta * c[j];
    for (int k = 0; k < K; ++k) {
      const float a = alpha * at(A, lda, ta, i, k);
      if (a == 0.f) continue;
      for (int j = 0; j < N; ++j) c[j] += a * at(B, ldb, tb, k, j);
    }
  }
}

// Vectorised path: op(B) is made row-contiguous (packed when transposed), then each thread
// updates blocks of 4 rows of C with broadcast-FMA over SIMD-wide column strips.
inline void gemm_simd(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A,
                      int lda, const float* B, int ldb, float beta, float* C, int ldc) {
  std::vector<float> packedB;
  const float* Bp = B;
  int ldbp = ldb;
  if (tb == Trans::yes) {
    packedB.resize(static_cast<std::size_t>(K) * N);
    for (int k = 0; k < K; ++k)
      for (int j = 0; j < N; ++j)
        packedB[static_cast<std::size_t>(k) * N + j] = B[static_cast<std::ptrdiff_t>(j) * ldb + k];
    Bp = packedB.data();
    ldbp = N;
  }
  constexpr int W = static_cast<int>(simd_width);
  const bool par = !omp_in_parallel() && static_cast<long>(M) * N * K > 32768;
  const int blocks = (M + 3) / 4;
#pragma omp parallel for schedule(static) if (par)
  for (int blk = 0; blk < blocks; ++blk) {
    const int i0 = blk * 4;
    const int rows = std::min(4, M - i0);
    float* c[4];
    for (int r = 0; r < 4; ++r) c[r] = C + static_cast<std::ptrdiff_t>(i0 + std::min(r, rows - 1)) * ldc;
    for (int r = 0; r < rows; ++r)
      for (int j = 0; j < N; ++j) c[r][j] = beta == 0.f ? 0.f : beta * c[r][j];
    int j = 0;
    for (; j + W <= N; j += W) {
      simd_batch acc[4] = {simd_batch(0.f), simd_batch(0.f), simd_batch(0.f), simd_batch(0.f)};
      for (int k = 0; k < K; ++k) {
        const simd_batch b = simd_batch::load_unaligned(Bp + static_cast<std::ptrdiff_t>(k) * ldbp + j);
        for (int r = 0; r < rows; ++r) acc[r] = xsimd::fma(simd_batch(at(A, lda, ta, i0 + r, k)), b, acc[r]);
      }
      for (int r = 0; r < rows; ++r) {
        simd_batch cv = simd_batch::load_unaligned(c[r] + j);
        (xsimd::fma(simd_batch(alpha), acc[r], cv)).store_unaligned(c[r] + j);
      }
    }
    for (; j < N; ++j) {
      for (int r = 0; r < rows; ++r) {
        float s = 0.f;
        for (int k = 0; k < K; ++k) s += at(A, lda, ta, i0 + r, k) * Bp[static_cast<std::ptrdiff_t>(k) * ldbp + j];
        c[r][j] += alpha * s;
      }
    }
  }
}

}  // namespace detail

inline void gemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda,
                 const float* B, int ldb, float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (simd_enabled())
    detail::gemm_simd(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  else
    detail::gemm_scalar(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace fernet::kernels
