#pragma once
// Transposes of float tiles in registers (16 x 16 with AVX-512, 8 x 8 with AVX2): the GEMM packs
// transposed operands with them, and the direct convolution turns its pixel-major tiles into
// planes. A strided scalar loop reads one cache line per value (about 3.5 cycles a value for
// conv2's output, a fifth of the convolution's time).
#include <algorithm>
#include <cstddef>

#include "../simd.hpp"

namespace fernet::kernels {
inline namespace FERNET_ISA {

namespace transpose_detail {
#if XSIMD_WITH_AVX512F
// r[i] holds row i of a 16 x 16 tile; afterwards r[i] holds column i.
[[gnu::always_inline]] inline void transpose16(__m512 r[16]) {
  __m512 t[16];
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 2) {
    t[i] = _mm512_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm512_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 16; i += 4) {
    r[i] = _mm512_shuffle_ps(t[i], t[i + 2], 0x44);
    r[i + 1] = _mm512_shuffle_ps(t[i], t[i + 2], 0xEE);
    r[i + 2] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    r[i + 3] = _mm512_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
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
  __m256 t[8], s[8];
#pragma GCC unroll 16
  for (int i = 0; i < 8; i += 2) {
    t[i] = _mm256_unpacklo_ps(r[i], r[i + 1]);
    t[i + 1] = _mm256_unpackhi_ps(r[i], r[i + 1]);
  }
#pragma GCC unroll 16
  for (int i = 0; i < 8; i += 4) {
    s[i] = _mm256_shuffle_ps(t[i], t[i + 2], 0x44);
    s[i + 1] = _mm256_shuffle_ps(t[i], t[i + 2], 0xEE);
    s[i + 2] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0x44);
    s[i + 3] = _mm256_shuffle_ps(t[i + 1], t[i + 3], 0xEE);
  }
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

// dst[c * ldd + i] = src[i * lds + c], plus bias[c] where bias is not null (+ after the
// transpose, so the values are those of the scalar loop), for i < rows, c < cols.
inline void transpose_add_bias(const float* src, std::ptrdiff_t lds, int rows, int cols, const float* bias, float* dst,
                               std::ptrdiff_t ldd) {
  int c0 = 0;
#if XSIMD_WITH_AVX
  using T = transpose_detail::Tile;
  for (; c0 + T::n <= cols; c0 += T::n)
    for (int i0 = 0; i0 < rows; i0 += T::n) {
      const int n = std::min(T::n, rows - i0);
      typename T::V r[T::n];
#pragma GCC unroll 16
      for (int i = 0; i < T::n; ++i) r[i] = i < n ? T::load(src + (i0 + i) * lds + c0) : T::zero();
      T::transpose(r);
#pragma GCC unroll 16
      for (int c = 0; c < T::n; ++c) T::store(dst + (c0 + c) * ldd + i0, bias ? T::add(r[c], bias[c0 + c]) : r[c], n);
    }
#endif
  for (; c0 < cols; ++c0) {
    float* d = dst + c0 * ldd;
    if (bias) {
      const float b = bias[c0];
      for (int i = 0; i < rows; ++i) d[i] = src[i * lds + c0] + b;
    } else {
      for (int i = 0; i < rows; ++i) d[i] = src[i * lds + c0];
    }
  }
}

}  // namespace FERNET_ISA
}  // namespace fernet::kernels
