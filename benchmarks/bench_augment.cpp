// Images/s of augmentation on a batch of 128 48x48 grey images, at 1 and 2 threads: the typical
// training pipeline (random crop 44 of the image padded by 4, flip, affine rotation +-10 degrees
// with shift and scale, random erasing) and each transform alone. Augmentation must not be the
// bottleneck: compare with the training throughput of the network it feeds (NetAdam about
// 600-900 images/s per core here, ResNet-18 about 150).
//   bench_augment [--benchmark_filter=pipeline]
// Measured at 5d66b0a on the shared 2-core machine under load 9-12 (other sessions compiling):
// pipeline 29,600-33,500 images/s on 1 thread (2.2 ms of CPU per batch of 128: ~60,000 images/s
// per core), affine alone 28,000-30,000. At 2 threads under that load GOMP's spinning barrier
// costs ~15 ms per batch whatever the work (8,000 images/s); with OMP_WAIT_POLICY=passive the
// pipeline runs 31,800 images/s at 2 threads.
#include <benchmark/benchmark.h>

#include <cstdint>
#include <vector>

#include <fernet/data/augment/all.hpp>
#include <fernet/parallel.hpp>

using namespace fernet;
namespace aug = fernet::data::augment;

namespace {

constexpr int batch = 128;
constexpr aug::Shape image{1, 48, 48};

void run(benchmark::State& state, const aug::Pipeline& p) {
  set_threads(static_cast<int>(state.range(0)));
  Rng rng(1);
  std::vector<float> in(batch * image.size());
  for (auto& v : in) v = rng.uniform(0.f, 255.f);
  const aug::Shape out_shape = p.output_shape(image);
  std::vector<float> out(batch * out_shape.size());
  std::vector<std::uint64_t> index(batch);
  int epoch = 0;
  for (auto _ : state) {
    for (int i = 0; i < batch; ++i) index[i] = static_cast<std::uint64_t>(epoch) * batch + i;
    aug::apply_batch(p, in.data(), image, out.data(), batch, 7, epoch++, index.data());
    benchmark::DoNotOptimize(out.data());
    benchmark::ClobberMemory();
  }
  state.counters["images/s"] =
      benchmark::Counter(static_cast<double>(state.iterations()) * batch, benchmark::Counter::kIsRate);
}

const aug::Affine affine{.degrees = 10.f, .translate = 0.1f, .scale_min = 0.9f, .scale_max = 1.1f};

void pipeline(benchmark::State& s) {
  run(s, aug::Pipeline{aug::RandomCrop{44, 4}, aug::HorizontalFlip{0.5f}, affine, aug::RandomErasing{.p = 0.5f}});
}
void crop(benchmark::State& s) { run(s, aug::Pipeline{aug::RandomCrop{44, 4}}); }
void flip(benchmark::State& s) { run(s, aug::Pipeline{aug::HorizontalFlip{0.5f}}); }
void affine_warp(benchmark::State& s) { run(s, aug::Pipeline{affine}); }
void erasing(benchmark::State& s) { run(s, aug::Pipeline{aug::RandomErasing{.p = 0.5f}}); }
void jitter(benchmark::State& s) {
  run(s, aug::Pipeline{aug::BrightnessContrast{.brightness = 0.2f, .contrast = 0.2f, .black = 0.f, .white = 255.f}});
}

}  // namespace

BENCHMARK(pipeline)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK(crop)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK(flip)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK(affine_warp)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK(erasing)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK(jitter)->Arg(1)->Arg(2)->ArgName("threads")->UseRealTime();
BENCHMARK_MAIN();
