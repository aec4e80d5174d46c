// GEMM: the packed SIMD path against a double-precision loop (and the scalar path) for every
// transpose combination, ragged sizes, strided operands, alpha/beta variants, and thread counts.
#include <doctest/doctest.h>

#include <cmath>
#include <fernet/kernels/gemm.hpp>
#include <limits>
#include <random>
#include <vector>

namespace {

using fernet::kernels::Trans;

struct Problem {
  Trans ta, tb;
  int M, N, K;
  int pad;  // extra columns in every leading dimension
  float alpha, beta;
};

struct Operands {
  std::vector<float> A, B, C;
  int lda, ldb, ldc;
};

Operands make(const Problem& p, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  Operands o;
  const int arows = p.ta == Trans::no ? p.M : p.K, acols = p.ta == Trans::no ? p.K : p.M;
  const int brows = p.tb == Trans::no ? p.K : p.N, bcols = p.tb == Trans::no ? p.N : p.K;
  o.lda = acols + p.pad;
  o.ldb = bcols + p.pad;
  o.ldc = p.N + p.pad;
  o.A.resize(static_cast<std::size_t>(arows) * o.lda);
  o.B.resize(static_cast<std::size_t>(brows) * o.ldb);
  o.C.resize(static_cast<std::size_t>(p.M) * o.ldc);
  for (auto& x : o.A) x = d(rng);
  for (auto& x : o.B) x = d(rng);
  for (auto& x : o.C) x = p.beta == 0.f ? std::numeric_limits<float>::quiet_NaN() : d(rng);
  return o;
}

double at(const std::vector<float>& X, int ld, Trans t, int r, int c) {
  return t == Trans::no ? X[static_cast<std::size_t>(r) * ld + c] : X[static_cast<std::size_t>(c) * ld + r];
}

// Runs the library gemm on a copy of o.C and checks every element (and the padding) against a
// double-precision reference; returns the result.
std::vector<float> check(const Problem& p, const Operands& o) {
  std::vector<float> C = o.C;
  fernet::kernels::gemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, p.beta, C.data(),
                        o.ldc);
  int bad = 0;
  for (int i = 0; i < p.M; ++i)
    for (int j = 0; j < o.ldc; ++j) {
      const std::size_t idx = static_cast<std::size_t>(i) * o.ldc + j;
      if (j >= p.N) {  // padding is never touched (NaN != NaN, so compare bits via isnan)
        if (!(std::isnan(o.C[idx]) ? std::isnan(C[idx]) : C[idx] == o.C[idx])) ++bad;
        continue;
      }
      double s = 0, mag = 0;
      for (int k = 0; k < p.K; ++k) {
        const double t = at(o.A, o.lda, p.ta, i, k) * at(o.B, o.ldb, p.tb, k, j);
        s += t;
        mag += std::abs(t);
      }
      double want = p.alpha * s, scale = std::abs(p.alpha) * mag;
      if (p.beta != 0.f) {
        want += p.beta * static_cast<double>(o.C[idx]);
        scale += std::abs(p.beta * o.C[idx]);
      }
      if (!(std::abs(C[idx] - want) <= 1e-5 * scale + 1e-6)) ++bad;
    }
  INFO("ta=" << (p.ta == Trans::yes) << " tb=" << (p.tb == Trans::yes) << " M=" << p.M << " N=" << p.N << " K=" << p.K
             << " pad=" << p.pad << " alpha=" << p.alpha << " beta=" << p.beta);
  CHECK(bad == 0);
  return C;
}

const Trans both[] = {Trans::no, Trans::yes};

}  // namespace

TEST_CASE("gemm: all transpose combinations, ragged sizes, against a double reference") {
  const int sizes[] = {1, 7, 13, 31, 33, 65, 130};
  unsigned seed = 1;
  for (Trans ta : both)
    for (Trans tb : both)
      for (int M : sizes)
        for (int N : {1, 13, 33, 65})
          for (int K : {1, 9, 31, 130}) {
            const Problem p{ta, tb, M, N, K, 0, 1.f, 0.f};
            check(p, make(p, seed++));
          }
}

TEST_CASE("gemm: sizes spanning several cache blocks, strided operands") {
  unsigned seed = 100;
  for (Trans ta : both)
    for (Trans tb : both) {
      for (const Problem p :
           {Problem{ta, tb, 257, 130, 257, 3, 1.f, 0.f}, Problem{ta, tb, 33, 257, 600, 5, 0.5f, 0.25f},  // K > KC
            Problem{ta, tb, 20, 50, 1100, 0, 1.f, 0.f}, Problem{ta, tb, 430, 65, 9, 1, -2.f, 0.25f},
            Problem{ta, tb, 31, 4200, 7, 2, 1.f, 0.f}, Problem{ta, tb, 257, 9, 130, 3, -1.f, 0.f},  // computed as C^T
            Problem{ta, tb, 100, 20, 33, 1, 1.f, 0.5f}})
        check(p, make(p, seed++));
    }
}

TEST_CASE("gemm: alpha/beta variants; beta == 0 ignores NaN in C") {
  unsigned seed = 200;
  for (Trans ta : both)
    for (Trans tb : both)
      for (float alpha : {1.f, -0.5f, 0.f})
        for (float beta : {0.f, 1.f, 2.5f}) {
          const Problem p{ta, tb, 65, 33, 130, 2, alpha, beta};
          check(p, make(p, seed++));
        }
}

TEST_CASE("gemm: K == 0 scales C by beta") {
  for (float beta : {0.f, 3.f}) {
    const Problem p{Trans::no, Trans::no, 13, 33, 0, 1, 1.f, beta};
    check(p, make(p, 300));
  }
}

TEST_CASE("gemm: SIMD path agrees with the scalar path") {
  unsigned seed = 400;
  for (Trans ta : both)
    for (Trans tb : both) {
      const Problem p{ta, tb, 130, 257, 65, 1, 0.75f, 0.5f};
      const Operands o = make(p, seed++);
      const std::vector<float> simd = check(p, o);
      fernet::use_simd(false);
      const std::vector<float> scalar = check(p, o);
      fernet::use_simd(true);
      int differ = 0;
      for (std::size_t i = 0; i < simd.size(); ++i)
        if (!(std::abs(simd[i] - scalar[i]) <= 1e-4f * (1.f + std::abs(scalar[i])))) ++differ;
      CHECK(differ == 0);
    }
}

TEST_CASE("gemm: 1 and 2 threads give identical results") {
  const int saved = fernet::threads();
  unsigned seed = 500;
  for (Trans ta : both)
    for (Trans tb : both)
      for (const Problem p : {Problem{ta, tb, 300, 290, 270, 1, 1.f, 0.f},   // split over rows
                              Problem{ta, tb, 20, 700, 300, 0, 1.f, 1.f},    // split over columns
                              Problem{ta, tb, 64, 2304, 9, 0, 1.f, 0.f},     // im2col, K = 9
                              Problem{ta, tb, 700, 9, 300, 0, 1.f, 1.f}}) {  // few columns
        const Operands o = make(p, seed++);
        fernet::set_threads(1);
        const std::vector<float> one = check(p, o);
        fernet::set_threads(2);
        const std::vector<float> two = check(p, o);
        int differ = 0;
        for (std::size_t i = 0; i < one.size(); ++i)
          if (!(one[i] == two[i] || (std::isnan(one[i]) && std::isnan(two[i])))) ++differ;
        CHECK(differ == 0);
      }
  fernet::set_threads(saved);
}

TEST_CASE("gemm: callable from inside a parallel region (runs single-threaded there)") {
  const Problem p{Trans::no, Trans::yes, 100, 90, 80, 0, 1.f, 0.f};
  const Operands o = make(p, 600);
  std::vector<std::vector<float>> out(2, o.C);
#pragma omp parallel for num_threads(2)
  for (int t = 0; t < 2; ++t)
    fernet::kernels::gemm(p.ta, p.tb, p.M, p.N, p.K, p.alpha, o.A.data(), o.lda, o.B.data(), o.ldb, p.beta,
                          out[t].data(), o.ldc);
  const std::vector<float> ref = check(p, o);
  CHECK(out[0] == ref);
  CHECK(out[1] == ref);
}

TEST_CASE("gemm: a few rows times a transposed B (linear layers at batch 1..4)") {
  unsigned seed = 77;
  for (int M : {1, 2, 3, 4, 5})
    for (int N : {1024, 7})  // rows of B in groups of 4, and a group cut short
      for (int K : {7, 64, 2304})
        for (float beta : {0.f, 0.5f}) {
          const Problem p{Trans::no, Trans::yes, M, N, K, 3, 0.75f, beta};
          check(p, make(p, seed++));
        }
}

TEST_CASE("gemm: at batch 1..4 each output is the same whichever rows of B it is computed with") {
  // Rows of B are taken several at a time; an output's sum must not depend on its neighbours.
  for (int M : {1, 3}) {
    const Problem p{Trans::no, Trans::yes, M, 11, 100, 0, 1.f, 0.f};
    const Operands o = make(p, 5);
    std::vector<float> all(static_cast<std::size_t>(M) * p.N), one(M);
    fernet::kernels::gemm(p.ta, p.tb, M, p.N, p.K, 1.f, o.A.data(), o.lda, o.B.data(), o.ldb, 0.f, all.data(), p.N);
    for (int j = 0; j < p.N; ++j) {
      fernet::kernels::gemm(p.ta, p.tb, M, 1, p.K, 1.f, o.A.data(), o.lda, o.B.data() + j * o.ldb, o.ldb, 0.f,
                            one.data(), 1);
      for (int i = 0; i < M; ++i) CHECK(one[i] == all[static_cast<std::size_t>(i) * p.N + j]);
    }
  }
}
