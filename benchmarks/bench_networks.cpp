// Whole training steps (forward, loss, backward, optimiser) and inference of the notebook
// networks at the notebook's batch sizes, and a training step of the vgg-fast recipe's network
// at its batch (with Adam, as the rest; the recipe uses SGD), reported as images/s.
//   bench_networks [--benchmark_filter=NetAdam] [--benchmark_format=json]
// Thread count: the benchmark argument (1 or 2). Scalar path: FERNET_SCALAR=1 in the environment.
#include <benchmark/benchmark.h>

#include <cstdlib>
#include <memory>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>

using namespace fernet;

namespace {
template <class Net>
struct Fixture {
  int n;
  std::unique_ptr<Net> net = std::make_unique<Net>(1);
  std::vector<float> x, grad;
  std::vector<int> labels;
  explicit Fixture(int batch)
      : n(batch), x(batch * Net::input_shape::size), grad(batch * Net::output_shape::size), labels(batch) {
    Rng rng(3);
    for (auto& v : x) v = rng.uniform(0.f, 1.f);
    for (auto& l : labels) l = static_cast<int>(rng.below(Net::output_shape::size));
  }
};

void configure(benchmark::State& state) {
  set_threads(static_cast<int>(state.range(0)));
  use_simd(std::getenv("FERNET_SCALAR") == nullptr);
  flush_denormals_all_threads();
}

template <class Net, class Loss>
void train_step(benchmark::State& state, int batch) {
  configure(state);
  Fixture<Net> f(batch);
  Adam opt(*f.net, {});
  constexpr int k = static_cast<int>(Net::output_shape::size);
  for (auto _ : state) {
    const float* y = f.net->forward(f.x.data(), f.n);
    benchmark::DoNotOptimize(Loss::compute(y, f.labels.data(), f.n, k, f.grad.data()));
    f.net->zero_grad();
    f.net->backward(f.grad.data());
    opt.step();
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

// half: the linear layers' weights read as halves (Sequential::use_half_linear_weights).
template <class Net>
void inference(benchmark::State& state, int batch, bool half = false) {
  configure(state);
  Fixture<Net> f(batch);
  f.net->eval();
  f.net->use_half_linear_weights(half);
  for (auto _ : state) benchmark::DoNotOptimize(f.net->infer(f.x.data(), f.n));
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}
}  // namespace

using namespace fernet::networks;
void MLP_train_b100(benchmark::State& s) { train_step<LinearMLP, NLLLoss>(s, 100); }
void NetAdam_train_b100(benchmark::State& s) { train_step<NetAdam, NLLLoss>(s, 100); }
void TfCNN_train_b50(benchmark::State& s) { train_step<TfCNN, CrossEntropyLoss>(s, 50); }
void ResNet18_train_b100(benchmark::State& s) { train_step<ResNet18, CrossEntropyLoss>(s, 100); }
void VggFast_train_b64(benchmark::State& s) { train_step<VggFast, CrossEntropyLoss>(s, 64); }
void NetAdam_infer_b100(benchmark::State& s) { inference<NetAdam>(s, 100); }
void NetAdam_infer_b1(benchmark::State& s) { inference<NetAdam>(s, 1); }
void NetAdam_infer_b1_half(benchmark::State& s) { inference<NetAdam>(s, 1, true); }
void NetAdam_infer_b100_half(benchmark::State& s) { inference<NetAdam>(s, 100, true); }

BENCHMARK(MLP_train_b100)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(NetAdam_train_b100)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(TfCNN_train_b50)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(ResNet18_train_b100)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(VggFast_train_b64)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(NetAdam_infer_b100)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(NetAdam_infer_b1)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(NetAdam_infer_b1_half)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMicrosecond);
BENCHMARK(NetAdam_infer_b100_half)->ArgName("threads")->Arg(1)->Arg(2)->UseRealTime()->Unit(benchmark::kMillisecond);

BENCHMARK_MAIN();
