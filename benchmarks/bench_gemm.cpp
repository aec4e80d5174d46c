// GEMM throughput: square sizes on 1 and 2 threads, and the shapes the network's layers use,
// for each transpose combination. FLOP count: 2*M*N*K (one multiply + one add per term).
// Argument "simd" (1/0) selects the packed SIMD path or the scalar reference.
#include <benchmark/benchmark.h>

#include <fernet/kernels/gemm.hpp>
#include <random>
#include <vector>

namespace {

using fernet::kernels::Trans;

std::vector<float> random_matrix(std::size_t n, unsigned seed) {
  std::mt19937 rng(seed);
  std::uniform_real_distribution<float> d(-1.f, 1.f);
  std::vector<float> v(n);
  for (auto& x : v) x = d(rng);
  return v;
}

// Args: M, N, K, ta, tb, beta (x1), threads, simd
void BM_gemm(benchmark::State& state) {
  const int M = static_cast<int>(state.range(0)), N = static_cast<int>(state.range(1)),
            K = static_cast<int>(state.range(2));
  const Trans ta = state.range(3) ? Trans::yes : Trans::no;
  const Trans tb = state.range(4) ? Trans::yes : Trans::no;
  const float beta = static_cast<float>(state.range(5));
  fernet::set_threads(static_cast<int>(state.range(6)));
  fernet::use_simd(state.range(7) != 0);
  // op(A) is M x K: stored M x K, or K x M when transposed; likewise op(B).
  const int lda = ta == Trans::no ? K : M, ldb = tb == Trans::no ? N : K;
  auto A = random_matrix(static_cast<std::size_t>(M) * K, 1);
  auto B = random_matrix(static_cast<std::size_t>(K) * N, 2);
  std::vector<float> C(static_cast<std::size_t>(M) * N, 0.f);
  for (auto _ : state) {
    fernet::kernels::gemm(ta, tb, M, N, K, 1.f, A.data(), lda, B.data(), ldb, beta, C.data(), N);
    benchmark::DoNotOptimize(C.data());
    benchmark::ClobberMemory();
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * M * N * K / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  fernet::use_simd(true);
}

void square(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "ta", "tb", "beta", "thr", "simd"});
  for (int t : {1, 2})
    for (int n : {256, 512, 1024, 2048, 4096})
      for (int ta : {0, 1})
        for (int tb : {0, 1}) b->Args({n, n, n, ta, tb, 0, t, 1});
  // Scalar reference, for scale (slow: small sizes only).
  b->Args({256, 256, 256, 0, 0, 0, 1, 0});
  b->Args({512, 512, 512, 0, 0, 0, 1, 0});
}

// Network shapes: linear layer (batch 128, 2304 -> 512) forward / dW / dX, and a 3x3 conv on a
// 48x48 image via im2col (Cin 32 -> Cout 64, K = 9*Cin; P = 2304) plus the first conv (K = 9).
void network(benchmark::internal::Benchmark* b) {
  b->ArgNames({"M", "N", "K", "ta", "tb", "beta", "thr", "simd"});
  for (int t : {1, 2}) {
    b->Args({128, 512, 2304, 0, 1, 0, t, 1});  // Y = X W^T
    b->Args({512, 2304, 128, 1, 0, 1, t, 1});  // dW += dY^T X
    b->Args({128, 2304, 512, 0, 0, 0, t, 1});  // dX = dY W
    b->Args({64, 2304, 288, 0, 0, 0, t, 1});   // conv out = W col
    b->Args({64, 288, 2304, 0, 1, 1, t, 1});   // conv dW += dOut col^T
    b->Args({288, 2304, 64, 1, 0, 0, t, 1});   // conv dcol = W^T dOut
    b->Args({32, 2304, 9, 0, 0, 0, t, 1});     // first conv, K = 9
    b->Args({32, 9, 2304, 0, 1, 1, t, 1});     // its dW
    b->Args({9, 2304, 32, 1, 0, 0, t, 1});     // its dcol
    b->Args({1, 1024, 2048, 0, 1, 0, t, 1});   // NetAdam's fc1 at batch 1 (weights streamed)
    b->Args({4, 1024, 2048, 0, 1, 0, t, 1});   // the same at batch 4
  }
}

// This core's FMA peak right now (the VM's clock varies with its neighbours): 24 independent
// FMA chains, no memory traffic. GEMM figures are read against it.
void BM_fma_peak(benchmark::State& state) {
  constexpr int chains = 24, steps = 1000;
  fernet::simd_batch acc[chains];
  for (int r = 0; r < chains; ++r) acc[r] = fernet::simd_batch(0.001f * r);
  const fernet::simd_batch b(0.9999f), c(1e-4f);
  for (auto _ : state) {
    for (int i = 0; i < steps; ++i)
#pragma GCC unroll 24
      for (int r = 0; r < chains; ++r) acc[r] = xsimd::fma(acc[r], b, c);
    benchmark::DoNotOptimize(acc);
  }
  state.counters["GFLOP/s"] = benchmark::Counter(2.0 * chains * steps * fernet::simd_width / 1e9,
                                                 benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

BENCHMARK(BM_fma_peak)->Name("fma_peak")->UseRealTime();
BENCHMARK(BM_gemm)->Name("gemm/square")->Apply(square)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(BM_gemm)->Name("gemm/net")->Apply(network)->UseRealTime()->Unit(benchmark::kMicrosecond);

BENCHMARK_MAIN();
