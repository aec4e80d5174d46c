#pragma once
// Single-precision matrix multiply, row-major, with the transposed variants the backward passes
// need:  C[M x N] = alpha * op(A)[M x K] * op(B)[K x N] + beta * C.
// op(A) is A (M x K, leading dimension lda >= K) or A^T (A stored K x M, lda >= M); same for B.
// Threaded with OpenMP unless called from inside a parallel region.
//
// The SIMD path is GotoBLAS/BLIS-shaped: op(B) is packed into KC x NR column panels, op(A)
// into MR x KC row panels, and a register-blocked micro-kernel keeps an MR x NR tile of C in
// registers. Packing absorbs the transposes, so all four combinations run the same kernel.
// Threads take disjoint parts of C on the tile grid; every C element sees the same k-blocking
// and instruction sequence whatever the thread count, so 1 and 2 threads agree bit for bit.
#include <algorithm>
#include <cmath>
#include <cstddef>
#include <vector>

#include "../parallel.hpp"
#include "../simd.hpp"
#include "kernel_set.hpp"
#include "transpose.hpp"

namespace fernet::kernels {
// Compiled once per instruction-set level (simd.hpp): a program with FERNET_DISPATCH holds
// several copies and runs one (kernel_set.hpp).
inline namespace FERNET_ISA {

namespace gemm_detail {

inline float at(const float* X, int ld, Trans t, int r, int c) {
  return t == Trans::no ? X[static_cast<std::ptrdiff_t>(r) * ld + c] : X[static_cast<std::ptrdiff_t>(c) * ld + r];
}

// Reference loop: also the "scalar path" of the library.
inline void gemm_scalar(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                        int ldb, float beta, float* C, int ldc) {
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

namespace packed {

constexpr int W = static_cast<int>(simd_width);
// Tile of C held in registers: MR rows x NR = 3 vectors (AVX-512: 8 x 48, 24 accumulators +
// 3 B vectors + 1 broadcast of the 32 registers). 8 x 48 measured as fast as 14 x 32 and
// 12 x 32 in isolation and wastes nothing on the network's shapes (M in {32, 64, 128, 288,
// 512}, N in {288, 2304}). AVX2 (16 registers): 6 x 16.
constexpr int MR = W >= 16 ? 8 : (W == 8 ? 6 : 4);
constexpr int NR = (W >= 16 ? 3 : 2) * W;
// Cache blocking for Sapphire Rapids (48 KiB L1d, 2 MiB L2 per core, shared L3). The MC x KC
// block of A (512 KiB) sits in L2; the KC x NR panel of B (96 KiB) streams from L2 as well,
// which measured better than KC = 128..384 (the longer k-loop amortises the C update); the
// KC x NC block of B (8 MiB) lives in L3.
constexpr int KC = 512;
constexpr int MC = 256 / MR * MR;  // a multiple of MR: row blocks are rounded up to MR
constexpr int NC = 4096;

using buffer = std::vector<float, xsimd::aligned_allocator<float, 64>>;

inline float* scratch(buffer& b, std::size_t n) {
  if (b.size() < n) b = buffer(n);  // grows to the largest block used, then stays
  return b.data();
}

// dst[k*width + j] = src[j*lds + k] for j < n, zero for n <= j < width; k < kc. This is the
// transposing half of packing; op(A) rows and op(B)^T rows are read contiguously.
inline void pack_transposed(const float* src, std::ptrdiff_t lds, int n, int width, int kc, float* dst) {
  transpose_rows(src, lds, n, width, kc, nullptr, dst, width);
}

// Ap[k*MR + r] = op(A)(i0 + r, k0 + k), rows past M zero-filled.
inline void pack_a(Trans ta, const float* A, int lda, int i0, int rows, int k0, int kc, float* Ap) {
  if (ta == Trans::no) {
    pack_transposed(A + static_cast<std::ptrdiff_t>(i0) * lda + k0, lda, rows, MR, kc, Ap);
  } else {
    for (int k = 0; k < kc; ++k) {
      const float* s = A + static_cast<std::ptrdiff_t>(k0 + k) * lda + i0;
      int r = 0;
      for (; r < rows; ++r) Ap[k * MR + r] = s[r];
      for (; r < MR; ++r) Ap[k * MR + r] = 0.f;
    }
  }
}

// Bp[k*NR + j] = op(B)(k0 + k, j0 + j), columns past N zero-filled.
inline void pack_b(Trans tb, const float* B, int ldb, int k0, int kc, int j0, int cols, float* Bp) {
  if (tb == Trans::yes) {
    pack_transposed(B + static_cast<std::ptrdiff_t>(j0) * ldb + k0, ldb, cols, NR, kc, Bp);
    return;
  }
  for (int k = 0; k < kc; ++k) {
    const float* s = B + static_cast<std::ptrdiff_t>(k0 + k) * ldb + j0;
    float* d = Bp + k * NR;
    if (cols == NR) {
      for (int v = 0; v < NR; v += W) simd_batch::load_unaligned(s + v).store_aligned(d + v);
    } else {
      int j = 0;
      for (; j < cols; ++j) d[j] = s[j];
      for (; j < NR; ++j) d[j] = 0.f;
    }
  }
}

// C[MR x NR] = alpha * Ap * Bp + beta * C; beta == 0 writes C without reading it.
inline void micro_kernel(int kc, const float* __restrict Ap, const float* __restrict Bp, float alpha, float beta,
                         float* C, int ldc) {
  constexpr int NV = NR / W;
  simd_batch acc[MR][NV];
  // C comes from L3 or memory; start fetching it now so the final update does not stall.
  for (int r = 0; r < MR; ++r)
    for (int j = 0; j < NR; j += 16) __builtin_prefetch(C + static_cast<std::ptrdiff_t>(r) * ldc + j, 1, 3);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r)
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) acc[r][v] = simd_batch(0.f);
  for (int k = 0; k < kc; ++k) {
    simd_batch b[NV];
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) b[v] = simd_batch::load_aligned(Bp + v * W);
#pragma GCC unroll 16
    for (int r = 0; r < MR; ++r) {
      const simd_batch a(Ap[r]);
#pragma GCC unroll 4
      for (int v = 0; v < NV; ++v) acc[r][v] = xsimd::fma(a, b[v], acc[r][v]);
    }
    Ap += MR;
    Bp += NR;
  }
  const simd_batch va(alpha), vb(beta);
#pragma GCC unroll 16
  for (int r = 0; r < MR; ++r) {
    float* c = C + static_cast<std::ptrdiff_t>(r) * ldc;
#pragma GCC unroll 4
    for (int v = 0; v < NV; ++v) {
      if (beta == 0.f) (va * acc[r][v]).store_unaligned(c + v * W);
      else xsimd::fma(va, acc[r][v], vb * simd_batch::load_unaligned(c + v * W)).store_unaligned(c + v * W);
    }
  }
}

// Ragged tile: run the full kernel into a scratch tile, then merge the valid part the same way.
inline void edge_kernel(int kc, const float* Ap, const float* Bp, float alpha, float beta, float* C, int ldc, int rows,
                        int cols) {
  alignas(64) float t[MR * NR];
  micro_kernel(kc, Ap, Bp, 1.f, 0.f, t, NR);
  for (int r = 0; r < rows; ++r) {
    float* c = C + static_cast<std::ptrdiff_t>(r) * ldc;
    for (int j = 0; j < cols; ++j)
      c[j] = beta == 0.f ? alpha * t[r * NR + j] : std::fma(alpha, t[r * NR + j], beta * c[j]);
  }
}

// Single-threaded blocked product; each thread of a parallel call runs it on its own part of C.
inline void gemm_block(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                       int ldb, float beta, float* C, int ldc) {
  thread_local buffer abuf, bbuf;
  // Row blocks of (nearly) equal height, a multiple of MR.
  const int mb = (M + MC - 1) / MC;
  const int mc_step = ((M + mb - 1) / mb + MR - 1) / MR * MR;
  const std::size_t kmax = std::min(K, KC), nmax = (std::min(N, NC) + NR - 1) / NR * NR;
  float* Ap = scratch(abuf, static_cast<std::size_t>(mc_step) * kmax);
  float* Bp = scratch(bbuf, nmax * kmax);
  for (int jc = 0; jc < N; jc += NC) {
    const int nc = std::min(NC, N - jc);
    for (int pc = 0; pc < K; pc += KC) {
      const int kc = std::min(KC, K - pc);
      const float b = pc == 0 ? beta : 1.f;
      for (int jr = 0; jr < nc; jr += NR) pack_b(tb, B, ldb, pc, kc, jc + jr, std::min(NR, nc - jr), Bp + jr * kc);
      for (int ic = 0; ic < M; ic += mc_step) {
        const int mc = std::min(mc_step, M - ic);
        for (int ir = 0; ir < mc; ir += MR) pack_a(ta, A, lda, ic + ir, std::min(MR, mc - ir), pc, kc, Ap + ir * kc);
        for (int jr = 0; jr < nc; jr += NR) {
          const int cols = std::min(NR, nc - jr);
          for (int ir = 0; ir < mc; ir += MR) {
            const int rows = std::min(MR, mc - ir);
            float* c = C + static_cast<std::ptrdiff_t>(ic + ir) * ldc + jc + jr;
            if (rows == MR && cols == NR) micro_kernel(kc, Ap + ir * kc, Bp + jr * kc, alpha, b, c, ldc);
            else edge_kernel(kc, Ap + ir * kc, Bp + jr * kc, alpha, b, c, ldc, rows, cols);
          }
        }
      }
    }
  }
}

// Threads get disjoint parts of C and run independently: no barriers, because on a shared
// machine a thread that loses its core stalls every barrier for a whole time slice (measured:
// a shared-B design with two barriers per k-slab fell to 2-20 GFLOP/s under a concurrent
// build). Split N when op(A) is the smaller operand (each thread packs all of op(A)), else M;
// boundaries fall on the MR/NR tile grid, so results do not depend on the thread count.
inline void gemm_packed(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                        int ldb, float beta, float* C, int ldc) {
  // Below ~2 MFLOP (about 15 us on one core) waking a second thread costs more than it saves.
  const int nt = omp_in_parallel() || static_cast<long>(M) * N * K < (1L << 20) ? 1 : omp_get_max_threads();
  const int mpanels = (M + MR - 1) / MR, npanels = (N + NR - 1) / NR;
  const bool split_n = npanels >= 2 * nt && (M <= N || mpanels < 2 * nt);
  const int units = split_n ? npanels : mpanels;
  if (nt == 1 || units < 2) {
    gemm_block(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
#pragma omp parallel num_threads(std::min(nt, units))
  {
    const int t = omp_get_thread_num(), n = omp_get_num_threads();
    const int u0 = static_cast<int>(static_cast<long>(units) * t / n);
    const int u1 = static_cast<int>(static_cast<long>(units) * (t + 1) / n);
    if (split_n) {
      const int j0 = u0 * NR, j1 = std::min(N, u1 * NR);
      const float* Bj = tb == Trans::no ? B + j0 : B + static_cast<std::ptrdiff_t>(j0) * ldb;
      gemm_block(ta, tb, M, j1 - j0, K, alpha, A, lda, Bj, ldb, beta, C + j0, ldc);
    } else {
      const int i0 = u0 * MR, i1 = std::min(M, u1 * MR);
      const float* Ai = ta == Trans::no ? A + static_cast<std::ptrdiff_t>(i0) * lda : A + i0;
      gemm_block(ta, tb, i1 - i0, N, K, alpha, Ai, lda, B, ldb, beta, C + static_cast<std::ptrdiff_t>(i0) * ldc, ldc);
    }
  }
}

}  // namespace packed

// C = beta * C for K == 0 (nothing to multiply); beta == 0 overwrites.
inline void scale_c(int M, int N, float beta, float* C, int ldc) {
  for (int i = 0; i < M; ++i)
    for (int j = 0; j < N; ++j) {
      float& c = C[static_cast<std::ptrdiff_t>(i) * ldc + j];
      c = beta == 0.f ? 0.f : beta * c;
    }
}

}  // namespace gemm_detail

namespace gemm_detail {
// A few rows times a transposed B (a linear layer at batch 1..4: y = x W^T): each output is a
// dot product of two contiguous rows. Packing W for the tiled kernel would read and write all
// of it to use one 8-row tile at 1/8 occupancy; here W is streamed once.
inline void gemm_rows_dot(int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                          float beta, float* C, int ldc) {
  constexpr int W = static_cast<int>(simd_width);
  // Rows of B taken R at a time: 2R independent sums in flight instead of 2. Two chains wait on
  // the FMA's latency once a row is in L1, as it is for the second to fourth sample (bench_gemm
  // at M = 4: 1.5-1.6x); at batch 1 the weights' stream from L3 or memory bounds either (M = 1
  // unchanged). Each output keeps its own two accumulators, so its sum is the same, bit for bit,
  // whatever R.
  constexpr int R = 4;
  const bool par = !omp_in_parallel() && static_cast<long>(N) * K > (1 << 16);
  const int groups = (N + R - 1) / R;
#pragma omp parallel for schedule(static) if (par)
  for (int g = 0; g < groups; ++g) {
    const int j0 = g * R, r = std::min(R, N - j0);
    const float* b[R];
    for (int q = 0; q < R; ++q) b[q] = B + static_cast<std::ptrdiff_t>(j0 + std::min(q, r - 1)) * ldb;
    for (int i = 0; i < M; ++i) {
      const float* a = A + static_cast<std::ptrdiff_t>(i) * lda;
      simd_batch acc0[R], acc1[R];
      for (int q = 0; q < R; ++q) acc0[q] = acc1[q] = simd_batch(0.f);
      int k = 0;
      for (; k + 2 * W <= K; k += 2 * W) {
        const simd_batch a0 = simd_batch::load_unaligned(a + k), a1 = simd_batch::load_unaligned(a + k + W);
        for (int q = 0; q < R; ++q) {
          acc0[q] = xsimd::fma(a0, simd_batch::load_unaligned(b[q] + k), acc0[q]);
          acc1[q] = xsimd::fma(a1, simd_batch::load_unaligned(b[q] + k + W), acc1[q]);
        }
      }
      for (int q = 0; q < r; ++q) {
        float dot = xsimd::hadd(acc0[q] + acc1[q]);
        for (int kk = k; kk < K; ++kk) dot += a[kk] * b[q][kk];
        float& c = C[static_cast<std::ptrdiff_t>(i) * ldc + j0 + q];
        c = beta == 0.f ? alpha * dot : std::fma(alpha, dot, beta * c);
      }
    }
  }
}
}  // namespace gemm_detail

// The vectorised product of this translation unit's instruction set (a KernelSet's gemm).
inline void gemm_simd(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B,
                      int ldb, float beta, float* C, int ldc) {
  if (K <= 0) {
    gemm_detail::scale_c(M, N, beta, C, ldc);
  } else if (M <= 4 && ta == Trans::no && tb == Trans::yes) {
    gemm_detail::gemm_rows_dot(M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  } else if (2 * N <= gemm_detail::packed::NR && M > N) {
    // A few columns (e.g. the 3x3 weight gradient of a one-channel convolution) would fill a
    // fraction of the NR-wide tile: compute C^T = op(B)^T op(A)^T instead, then merge.
    const auto flip = [](Trans t) { return t == Trans::no ? Trans::yes : Trans::no; };
    thread_local std::vector<float> t;
    t.resize(static_cast<std::size_t>(N) * M);
    gemm_detail::packed::gemm_packed(flip(tb), flip(ta), N, M, K, 1.f, B, ldb, A, lda, 0.f, t.data(), M);
    for (int i = 0; i < M; ++i)
      for (int j = 0; j < N; ++j) {
        float& c = C[static_cast<std::ptrdiff_t>(i) * ldc + j];
        const float v = t[static_cast<std::size_t>(j) * M + i];
        c = beta == 0.f ? alpha * v : std::fma(alpha, v, beta * c);
      }
  } else {
    gemm_detail::packed::gemm_packed(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
  }
}

inline void gemm(Trans ta, Trans tb, int M, int N, int K, float alpha, const float* A, int lda, const float* B, int ldb,
                 float beta, float* C, int ldc) {
  if (M <= 0 || N <= 0) return;
  if (!simd_enabled()) {
    gemm_detail::gemm_scalar(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
    return;
  }
  FERNET_KERNEL(gemm)(ta, tb, M, N, K, alpha, A, lda, B, ldb, beta, C, ldc);
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
