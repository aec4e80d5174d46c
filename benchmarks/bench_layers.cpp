// Forward and backward of each notebook layer shape on its own, at the notebook's batch sizes
// (NetAdam and the MLP 100, the TF CNN 50, ResNet-18 100; NetAdam's layers also at batch 1).
//   bench_layers [--benchmark_filter=NetAdam] [--benchmark_format=json]
// Names: <network>.<layer>/<fwd|bwd>/b<batch>/threads:<n>. Thread count: 1 or 2. Scalar path:
// FERNET_SCALAR=1 in the environment (as bench_networks).
// Counters: images/s; GFLOP/s for convolutions and linear layers (2 * multiply-adds: forward
// 2*Cout*Cin*K*K*Ho*Wo per image; backward the weight gradient plus, unless the layer is the
// first of its network and needs no input gradient, the input gradient); GB/s (bytes read and
// written once) for ReLU + pooling and batch norm. fma_peak is the core's FMA peak in the same
// run, to read GFLOP/s against (see NOTES.md).
// Each layer is the implementation the networks bind (Spec::layer<Shape>, ReLU + Pool bound
// through a Chain, i.e. the fused ReluThenPool), on its own aligned buffers.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <string>

#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>

using namespace fernet;

namespace {

void configure(int threads) {
  set_threads(threads);
  use_simd(std::getenv("FERNET_SCALAR") == nullptr);
  flush_denormals_all_threads();
}

template <class Spec, class In>
struct Bound {
  using impl = typename Spec::template layer<In>;
  using out = typename impl::out_shape;
  std::unique_ptr<impl> layer = std::make_unique<impl>();
  AlignedFloats p, g, b, x, y, dy, dx;
  explicit Bound(int n)
      : p(std::max<std::size_t>(1, impl::param_count)),
        g(std::max<std::size_t>(1, impl::param_count), 0.f),
        b(std::max<std::size_t>(1, impl::buffer_count)),
        x(static_cast<std::size_t>(n) * In::size),
        y(static_cast<std::size_t>(n) * out::size),
        dy(y.size()),
        dx(x.size()) {
    layer->bind(p.data(), g.data(), b.data());
    Rng rng(7);
    layer->init(rng);
    for (auto& v : x) v = 2.f * rng.uniform() - 1.f;
    for (auto& v : dy) v = 2.f * rng.uniform() - 1.f;
  }
};

enum class Kind { flops, bytes };

template <class Spec, class In>
void run(benchmark::State& state, int batch, bool backward, bool first, Kind kind, double work_fwd) {
  configure(static_cast<int>(state.range(0)));
  Bound<Spec, In> B(batch);
  const Context ctx{true, 1};
  B.layer->forward(B.x.data(), B.y.data(), batch, ctx);
  if (backward) {
    float* dx = first ? nullptr : B.dx.data();
    for (auto _ : state) {
      B.layer->backward(B.x.data(), B.y.data(), B.dy.data(), dx, batch, ctx);
      benchmark::ClobberMemory();
    }
  } else {
    for (auto _ : state) {
      B.layer->forward(B.x.data(), B.y.data(), batch, ctx);
      benchmark::ClobberMemory();
    }
  }
  const double imgs = batch;
  state.counters["images/s"] = benchmark::Counter(imgs, benchmark::Counter::kIsIterationInvariantRate);
  if (kind == Kind::flops) {
    // Backward: weight gradient (same count as forward) and, unless first, the input gradient.
    const double work = backward ? work_fwd * (first ? 1.0 : 2.0) : work_fwd;
    state.counters["GFLOP/s"] = benchmark::Counter(work * imgs / 1e9, benchmark::Counter::kIsIterationInvariantRate);
  } else {
    state.counters["GB/s"] = benchmark::Counter(work_fwd * (backward ? 1.5 : 1.0) * imgs / 1e9,
                                                benchmark::Counter::kIsIterationInvariantRate);
  }
}

template <class Spec, class In>
void add(const std::string& name, int batch, bool first, Kind kind, double work_fwd) {
  for (bool bwd : {false, true}) {
    const std::string full = name + (bwd ? "/bwd" : "/fwd") + "/b" + std::to_string(batch);
    benchmark::RegisterBenchmark(full.c_str(),
                                 [=](benchmark::State& s) { run<Spec, In>(s, batch, bwd, first, kind, work_fwd); })
        ->ArgName("threads")
        ->Arg(1)
        ->Arg(2)
        ->UseRealTime()
        ->Unit(benchmark::kMicrosecond);
  }
}

template <class S>
struct conv_of;
template <int I, int O, int K, int St, int P, bool B, class Init>
struct conv_of<Conv<I, O, K, St, P, B, Init>> {
  static constexpr int in = I, out = O, k = K;
};
template <int I, int O, int K, int St, bool B, class Init>
struct conv_of<ConvSame<I, O, K, St, B, Init>> {
  static constexpr int in = I, out = O, k = K;
};

template <class Spec, class In>
void conv(const std::string& name, int batch, bool first = false) {
  using impl = typename Spec::template layer<In>;
  using c = conv_of<Spec>;
  const double flops = 2.0 * c::out * c::in * c::k * c::k * impl::out_shape::height * impl::out_shape::width;
  add<Spec, In>(name, batch, first, Kind::flops, flops);
}

template <int I, int O, bool Bias = true>
void linear(const std::string& name, int batch, bool first = false) {
  add<Linear<I, O, Bias>, Shape<I, 1, 1>>(name, batch, first, Kind::flops, 2.0 * I * O);
}

// Memory-bound layers: bytes of input read and output written by the forward pass; the
// backward figure counts half as much again (gradient in, gradient out, at the pooling layer
// the small side twice), as a rough scale only.
template <class Spec, class In>
void memory(const std::string& name, int batch) {
  using impl = typename Spec::template layer<In>;
  add<Spec, In>(name, batch, false, Kind::bytes, 4.0 * (In::size + impl::out_shape::size));
}

using ReluPool2 = Chain<ReLU, Pool<2>>;

void register_all() {
  using namespace fernet::networks;
  // NetAdam / NetSGD, batch 100 (training and inference) and 1 (single-image inference).
  for (int b : {100, 1}) {
    conv<Conv<1, 32, 3>, Shape<1, 48, 48>>("NetAdam.conv1", b, true);
    memory<ReluPool2, Shape<32, 46, 46>>("NetAdam.relu_pool1", b);
    // The two above as the network binds them on the CPU: one fused layer (layers/fusions.hpp).
    add<Chain<Conv<1, 32, 3>, ReLU, Pool<2>>, Shape<1, 48, 48>>("NetAdam.conv1_relu_pool1", b, true, Kind::flops,
                                                               2.0 * 32 * 9 * 46 * 46);
    conv<Conv<32, 64, 3>, Shape<32, 23, 23>>("NetAdam.conv2", b);
    memory<ReluPool2, Shape<64, 21, 21>>("NetAdam.relu_pool2", b);
    conv<Conv<64, 128, 3>, Shape<64, 10, 10>>("NetAdam.conv3", b);
    memory<ReluPool2, Shape<128, 8, 8>>("NetAdam.relu_pool3", b);
    linear<2048, 1024>("NetAdam.fc1", b);
    linear<1024, 256>("NetAdam.fc2", b);
    linear<256, 64>("NetAdam.fc3", b);
    linear<64, 7>("NetAdam.fc4", b);
  }
  // The MLP's first layer (the others are NetAdam's fc2..fc4).
  linear<2304, 1024>("MLP.fc1", 100, true);
  // TF CNN, batch 50.
  conv<ConvSame<3, 8, 4, 1, false>, Shape<3, 48, 48>>("TfCNN.conv1", 50, true);
  memory<Chain<ReLU, PoolSame<4, 4>>, Shape<8, 48, 48>>("TfCNN.relu_pool1", 50);
  conv<ConvSame<8, 16, 2, 1, false>, Shape<8, 12, 12>>("TfCNN.conv2", 50);
  memory<Chain<ReLU, PoolSame<2, 2>>, Shape<16, 12, 12>>("TfCNN.relu_pool2", 50);
  linear<576, 120>("TfCNN.fc1", 50);
  linear<120, 64>("TfCNN.fc2", 50);
  linear<64, 7>("TfCNN.fc3", 50);
  // ResNet-18, batch 100: every distinct convolution (count per network in the name's comment),
  // its batch norms and the stem's ReLU + pooling.
  conv<Conv<1, 64, 7, 2, 3, false>, Shape<1, 48, 48>>("ResNet18.stem_conv", 100, true);   // x1
  memory<BatchNorm2d<64>, Shape<64, 24, 24>>("ResNet18.stem_bn", 100);                    // x1
  memory<Chain<ReLU, Pool<3, 2, 1>>, Shape<64, 24, 24>>("ResNet18.stem_relu_pool", 100);  // x1
  conv<ResConv<64, 64, 3, 1, 1>, Shape<64, 12, 12>>("ResNet18.l1_conv3x3", 100);          // x4
  memory<BatchNorm2d<64>, Shape<64, 12, 12>>("ResNet18.l1_bn", 100);                      // x4
  conv<ResConv<64, 128, 3, 2, 1>, Shape<64, 12, 12>>("ResNet18.l2_conv3x3s2", 100);       // x1
  conv<ResConv<128, 128, 3, 1, 1>, Shape<128, 6, 6>>("ResNet18.l2_conv3x3", 100);         // x3
  conv<ResConv<64, 128, 1, 2, 0>, Shape<64, 12, 12>>("ResNet18.l2_down1x1", 100);         // x1
  memory<BatchNorm2d<128>, Shape<128, 6, 6>>("ResNet18.l2_bn", 100);                      // x5
  conv<ResConv<128, 256, 3, 2, 1>, Shape<128, 6, 6>>("ResNet18.l3_conv3x3s2", 100);       // x1
  conv<ResConv<256, 256, 3, 1, 1>, Shape<256, 3, 3>>("ResNet18.l3_conv3x3", 100);         // x3
  conv<ResConv<128, 256, 1, 2, 0>, Shape<128, 6, 6>>("ResNet18.l3_down1x1", 100);         // x1
  memory<BatchNorm2d<256>, Shape<256, 3, 3>>("ResNet18.l3_bn", 100);                      // x5
  conv<ResConv<256, 512, 3, 2, 1>, Shape<256, 3, 3>>("ResNet18.l4_conv3x3s2", 100);       // x1
  conv<ResConv<512, 512, 3, 1, 1>, Shape<512, 2, 2>>("ResNet18.l4_conv3x3", 100);         // x3
  conv<ResConv<256, 512, 1, 2, 0>, Shape<256, 3, 3>>("ResNet18.l4_down1x1", 100);         // x1
  memory<BatchNorm2d<512>, Shape<512, 2, 2>>("ResNet18.l4_bn", 100);                      // x5
  linear<512, 7, false>("ResNet18.fc", 100);
}

// This core's FMA peak right now (as in bench_gemm): 24 independent FMA chains, no memory.
void fma_peak(benchmark::State& state) {
  constexpr int chains = 24, steps = 1000;
  simd_batch acc[chains];
  for (int r = 0; r < chains; ++r) acc[r] = simd_batch(0.001f * r);
  const simd_batch b(0.9999f), c(1e-4f);
  for (auto _ : state) {
    for (int i = 0; i < steps; ++i)
#pragma GCC unroll 24
      for (int r = 0; r < chains; ++r) acc[r] = xsimd::fma(acc[r], b, c);
    benchmark::DoNotOptimize(acc);
  }
  state.counters["GFLOP/s"] =
      benchmark::Counter(2.0 * chains * steps * simd_width / 1e9, benchmark::Counter::kIsIterationInvariantRate);
}

}  // namespace

int main(int argc, char** argv) {
  benchmark::RegisterBenchmark("fma_peak", fma_peak)->UseRealTime();
  register_all();
  benchmark::Initialize(&argc, argv);
  if (benchmark::ReportUnrecognizedArguments(argc, argv)) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
