#pragma once
// Transposes of float tiles in registers (16 x 16 with AVX-512, 8 x 8 with AVX2): the GEMM packs
// transposed operands with them (gemm.hpp, pack_transposed), and the direct convolution turns its
// pixel-major tiles into planes. A strided scalar loop reads one cache line per value (about 3.5 cycles a value for
// conv2's output, a fifth of the convolution's time).
#include <algorithm>
#include <cstddef>

#include "../simd.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

namespace transpose_detail {
// The vectors' 4-float operations per 128-bit lane, for the in-lane half below.
#if XSIMD_WITH_AVX512F
inline __m512 unpack_lo(__m512 a, __m512 b) { return _mm512_unpacklo_ps(a, b); }
inline __m512 unpack_hi(__m512 a, __m512 b) { return _mm512_unpackhi_ps(a, b); }
inline __m512 pair_lo(__m512 a, __m512 b) { return _mm512_shuffle_ps(a, b, 0x44); }
inline __m512 pair_hi(__m512 a, __m512 b) { return _mm512_shuffle_ps(a, b, 0xEE); }
#endif
#if XSIMD_WITH_AVX
inline __m256 unpack_lo(__m256 a, __m256 b) { return _mm256_unpacklo_ps(a, b); }
inline __m256 unpack_hi(__m256 a, __m256 b) { return _mm256_unpackhi_ps(a, b); }
inline __m256 pair_lo(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, 0x44); }
inline __m256 pair_hi(__m256 a, __m256 b) { return _mm256_shuffle_ps(a, b, 0xEE); }
#endif

// The first half of an N x N transpose (N vectors of N floats): every 4 x 4 block whose rows are
// one 128-bit lane of 4 consecutive vectors is transposed in place. What remains is moving the
// lanes (below, per width).
template <class V, int N>
[[gnu::always_inline]] inline void transpose_in_lanes(V* r) {
  V t[N];
#pragma GCC unroll 16
  for (int i = 0; i < N; i += 2) {
    t[i] = unpack_lo(r[i], r[i + 1]);
    t[i + 1] = unpack_hi(r[i], r[i + 1]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < N; i += 4) {
    r[i] = pair_lo(t[i], t[i + 2]);
    r[i + 1] = pair_hi(t[i], t[i + 2]);
    r[i + 2] = pair_lo(t[i + 1], t[i + 3]);
    r[i + 3] = pair_hi(t[i + 1], t[i + 3]);
  }
}

#if XSIMD_WITH_AVX512F
// r[i] holds row i of a 16 x 16 tile; afterwards r[i] holds column i.
[[gnu::always_inline]] inline void transpose16(__m512 r[16]) {
  transpose_in_lanes<__m512, 16>(r);
  __m512 t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 4; ++i) {
    t[i] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0x88);
    t[i + 4] = _mm512_shuffle_f32x4(r[i], r[i + 4], 0xDD);
    t[i + 8] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0x88);
    t[i + 12] = _mm512_shuffle_f32x4(r[i + 8], r[i + 12], 0xDD);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i) {
    r[i] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0x88);
    r[i + 8] = _mm512_shuffle_f32x4(t[i], t[i + 8], 0xDD);
  }
}
#endif
#if XSIMD_WITH_AVX
// r[i] holds row i of an 8 x 8 tile; afterwards r[i] holds column i.
[[gnu::always_inline]] inline void transpose8(__m256 r[8]) {
  transpose_in_lanes<__m256, 8>(r);
  __m256 s[8];
#pragma GCC unroll 16
  for (int i = 0; i < 8; ++i) s[i] = r[i];
#pragma GCC unroll 16
  for (int i = 0; i < 4; ++i) {
    r[i] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x20);
    r[i + 4] = _mm256_permute2f128_ps(s[i], s[i + 4], 0x31);
  }
}
#endif

// One instruction set's square tile: its vectors and the few operations the loop below needs.
#if XSIMD_WITH_AVX512F
struct Tile {
  static constexpr int n = 16;
  using V = __m512;
  static V load(const float* p) { return _mm512_loadu_ps(p); }
  static V zero() { return _mm512_setzero_ps(); }
  static V add(V v, float b) { return _mm512_add_ps(v, _mm512_set1_ps(b)); }
  [[gnu::always_inline]] static void transpose(V* r) { transpose16(r); }
  static void store(float* p, V v, int count) {
    _mm512_mask_storeu_ps(p, static_cast<__mmask16>((1u << count) - 1), v);
  }
};
#elif XSIMD_WITH_AVX
struct Tile {
  static constexpr int n = 8;
  using V = __m256;
  static V load(const float* p) { return _mm256_loadu_ps(p); }
  static V zero() { return _mm256_setzero_ps(); }
  static V add(V v, float b) { return _mm256_add_ps(v, _mm256_set1_ps(b)); }
  [[gnu::always_inline]] static void transpose(V* r) { transpose8(r); }
  static void store(float* p, V v, int count) {
    if (count == 8) {
      _mm256_storeu_ps(p, v);
    } else {  // no masked store before AVX-512
      alignas(32) float lane[8];
      _mm256_store_ps(lane, v);
      std::copy(lane, lane + count, p);
    }
  }
};
#endif
}  // namespace transpose_detail

// dst[c * ldd + i] = src[i * lds + c] for i < valid and zero for valid <= i < rows, plus bias[c]
// where bias is not null (+ after the transpose, so the values are those of the scalar loop),
// for c < cols.
inline void transpose_rows(const float* src, std::ptrdiff_t lds, int valid, int rows, int cols, const float* bias,
                           float* dst, std::ptrdiff_t ldd) {
  int whole = 0;  // columns done in tiles
#if XSIMD_WITH_AVX
  using T = transpose_detail::Tile;
  whole = cols / T::n * T::n;
  // Rows outer: each group of T::n source rows is read along its length, as the GEMM's packing
  // read them before it shared this loop (columns outer measured up to 1.1x slower there).
  for (int i0 = 0; i0 < rows; i0 += T::n)
    for (int c0 = 0; c0 < whole; c0 += T::n) {
      const int n = std::min(T::n, valid - i0), count = std::min(T::n, rows - i0);
      typename T::V r[T::n];
      // Strided rows defeat the hardware prefetcher (the GEMM packs rows of up to 512 floats):
      // fetch two tiles ahead by hand.
      for (int i = 0; i < n; ++i) __builtin_prefetch(src + (i0 + i) * lds + c0 + 2 * T::n);
#pragma GCC unroll 16
      for (int i = 0; i < T::n; ++i) r[i] = i < n ? T::load(src + (i0 + i) * lds + c0) : T::zero();
      T::transpose(r);
#pragma GCC unroll 16
      for (int c = 0; c < T::n; ++c)
        T::store(dst + (c0 + c) * ldd + i0, bias ? T::add(r[c], bias[c0 + c]) : r[c], count);
    }
#endif
  for (int c0 = whole; c0 < cols; ++c0) {
    float* d = dst + c0 * ldd;
    const float b = bias ? bias[c0] : 0.f;
    for (int i = 0; i < rows; ++i) {
      const float v = i < valid ? src[i * lds + c0] : 0.f;
      d[i] = bias ? v + b : v;
    }
  }
}

// dst[c * ldd + i] = src[i * lds + c] (+ bias[c] where bias is not null), for i < rows, c < cols.
inline void transpose_add_bias(const float* src, std::ptrdiff_t lds, int rows, int cols, const float* bias, float* dst,
                               std::ptrdiff_t ldd) {
  transpose_rows(src, lds, rows, rows, cols, bias, dst, ldd);
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
