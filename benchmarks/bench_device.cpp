// Whole training steps and inference of the notebook networks on a device backend, as
// bench_networks does on the CPU: images/s at the notebook's batch sizes. A training step
// uploads the batch and labels, runs forward, loss, backward and the optimiser on the device,
// and downloads the loss (so each step ends synchronised: the figure is end-to-end).
//   bench_device [--device=cuda|cuda:N|emulated] [--benchmark_filter=NetAdam] [--benchmark_format=json]
// Without --device: cuda. Exits 77 when the device cannot be used (no GPU, no CUDA in the build).
#include <benchmark/benchmark.h>

#include <cstdio>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fernet/device/model.hpp>
#include <fernet/device/select.hpp>
#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>

using namespace fernet;

namespace {
device::Backend* g_backend = nullptr;

template <class Net>
struct Fixture {
  int n;
  std::unique_ptr<Net> net = std::make_unique<Net>(1);
  std::vector<float> x;
  std::vector<int> labels;
  explicit Fixture(int batch) : n(batch), x(batch * Net::input_shape::size), labels(batch) {
    Rng rng(3);
    for (auto& v : x) v = rng.uniform(0.f, 1.f);
    for (auto& l : labels) l = static_cast<int>(rng.below(Net::output_shape::size));
  }
};

template <class Net, class Loss, class Optimizer, class Options>
void train_step(benchmark::State& state, int batch, Options options) {
  Fixture<Net> f(batch);
  Optimizer opt(*f.net, options);
  device::DeviceModel<Net> dev(*g_backend, *f.net);
  device::DeviceOptimizer<Optimizer> dopt(dev, opt);
  dev.template train_step<Loss>(f.x.data(), f.labels.data(), f.n, dopt);  // allocations happen here
  for (auto _ : state) benchmark::DoNotOptimize(dev.template train_step<Loss>(f.x.data(), f.labels.data(), f.n, dopt));
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}

template <class Net>
void inference(benchmark::State& state, int batch) {
  Fixture<Net> f(batch);
  f.net->eval();
  device::DeviceModel<Net> dev(*g_backend, *f.net);
  std::vector<float> out(static_cast<std::size_t>(batch) * Net::output_shape::size);
  dev.predict(f.x.data(), f.n, out.data());
  for (auto _ : state) {
    dev.predict(f.x.data(), f.n, out.data());  // upload, forward, download: end to end
    benchmark::DoNotOptimize(out.data());
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(batch), benchmark::Counter::kIsIterationInvariantRate);
}
}  // namespace

using namespace fernet::networks;
void MLP_train_b100(benchmark::State& s) { train_step<LinearMLP, NLLLoss, Adam>(s, 100, Adam::Options{}); }
void NetAdam_train_b100(benchmark::State& s) { train_step<NetAdam, NLLLoss, Adam>(s, 100, Adam::Options{}); }
void TfCNN_train_b50(benchmark::State& s) { train_step<TfCNN, CrossEntropyLoss, Adam>(s, 50, Adam::Options{}); }
void ResNet18_train_b100(benchmark::State& s) {
  train_step<ResNet18, CrossEntropyLoss, SGD>(s, 100, SGD::Options{0.01f});
}
void NetAdam_infer_b100(benchmark::State& s) { inference<NetAdam>(s, 100); }
void NetAdam_infer_b1(benchmark::State& s) { inference<NetAdam>(s, 1); }

BENCHMARK(MLP_train_b100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(NetAdam_train_b100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(TfCNN_train_b50)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(ResNet18_train_b100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(NetAdam_infer_b100)->UseRealTime()->Unit(benchmark::kMillisecond);
BENCHMARK(NetAdam_infer_b1)->UseRealTime()->Unit(benchmark::kMicrosecond);

int main(int argc, char** argv) {
  std::string name = "cuda";
  std::vector<char*> rest;
  for (int i = 0; i < argc; ++i) {
    if (std::strncmp(argv[i], "--device=", 9) == 0) name = argv[i] + 9;
    else rest.push_back(argv[i]);
  }
  std::unique_ptr<device::Backend> be;
  try {
    be = device::make_backend(name);
    if (!be) throw std::invalid_argument("--device=cpu: use bench_networks for the CPU");
  } catch (const std::exception& e) {
    std::fprintf(stderr, "bench_device: %s\n", e.what());
    return 77;
  }
  g_backend = be.get();
  benchmark::AddCustomContext("device", be->name());
  int rest_argc = static_cast<int>(rest.size());
  benchmark::Initialize(&rest_argc, rest.data());
  if (benchmark::ReportUnrecognizedArguments(rest_argc, rest.data())) return 1;
  benchmark::RunSpecifiedBenchmarks();
  benchmark::Shutdown();
  return 0;
}
