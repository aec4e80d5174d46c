// The vectorised path agrees with the plain scalar path, and one thread agrees with two.
#include <doctest/doctest.h>

#include <algorithm>
#include <cmath>
#include <memory>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>

using namespace fernet;

namespace {
using SmallCNN = Sequential<Input<1, 24, 24>, Conv<1, 8, 3>, ReLU, Pool<2>, Conv<8, 16, 3, 1, 1>, BatchNorm2d<16>, ReLU,
                            Pool<2>, Flatten, Linear<16 * 5 * 5, 32>, ReLU, Dropout<0.2f>, Linear<32, 7>>;

struct StepResult {
  std::vector<float> out, grads, params;
};

// One forward/backward/SGD step on fixed data (SGD, because Adam's first step is
// lr * sign(g) and flips on gradients that are zero up to rounding).
StepResult train_step() {
  SmallCNN net(42);
  const int n = 6;
  Rng rng(9);
  std::vector<float> x(n * SmallCNN::input_shape::size);
  for (auto& v : x) v = rng.uniform(0.f, 1.f);
  std::vector<int> labels(n);
  for (auto& l : labels) l = static_cast<int>(rng.below(7));
  const float* y = net.forward(x.data(), n);
  std::vector<float> dy(n * 7);
  CrossEntropyLoss::compute(y, labels.data(), n, 7, dy.data());
  net.zero_grad();
  net.backward(dy.data());
  StepResult r{std::vector<float>(y, y + n * 7), {}, {}};
  r.grads.assign(net.gradients().begin(), net.gradients().end());
  SGD opt(net, {.lr = 0.1f, .momentum = 0.9f});
  opt.step();
  r.params.assign(net.parameters().begin(), net.parameters().end());
  return r;
}

double max_rel_diff(const std::vector<float>& a, const std::vector<float>& b) {
  REQUIRE(a.size() == b.size());
  double worst = 0;
  for (std::size_t i = 0; i < a.size(); ++i)
    worst = std::max(worst, std::abs(double(a[i]) - b[i]) / std::max(1e-3, std::abs(double(b[i]))));
  return worst;
}
}  // namespace

TEST_CASE("simd: vectorised and scalar paths agree on a training step") {
  const auto simd = train_step();
  use_simd(false);
  const auto scalar = train_step();
  use_simd(true);
  CHECK(max_rel_diff(simd.out, scalar.out) < 1e-4);
  CHECK(max_rel_diff(simd.grads, scalar.grads) < 1e-3);
  CHECK(max_rel_diff(simd.params, scalar.params) < 1e-4);
  CHECK(!simd_arch().empty());
}

TEST_CASE("threads: one and two threads agree on a training step") {
  const int before = threads();
  set_threads(1);
  const auto one = train_step();
  set_threads(2);
  const auto two = train_step();
  set_threads(before);
  CHECK(max_rel_diff(one.out, two.out) < 1e-5);
  CHECK(max_rel_diff(one.grads, two.grads) < 1e-3);
  CHECK(max_rel_diff(one.params, two.params) < 1e-5);
}

// Convolutions spread their chunks over the threads from parallel_chunks_min chunks on, and add
// the per-chunk gradient partials in chunk order: so outputs and gradients must be the same to
// the bit whatever the thread count. The batch is chosen so that both layers do go parallel.
TEST_CASE("threads: convolution outputs and gradients are bitwise equal with 1 and 2 threads, in parallel sizes") {
  using ConvNet = Sequential<Input<3, 24, 24>, Conv<3, 8, 3>, ReLU, Conv<8, 16, 3, 1, 1>, ReLU, Pool<2>, Flatten,
                             Linear<16 * 11 * 11, 7>>;
  using Conv1 = Conv<3, 8, 3>::layer<Shape<3, 24, 24>>;
  using Conv2 = Conv<8, 16, 3, 1, 1>::layer<Shape<8, 22, 22>>;
  const int n = 4 * std::max(Conv1::chunk_samples, Conv2::chunk_samples);
  REQUIRE((n + Conv1::chunk_samples - 1) / Conv1::chunk_samples >= Conv1::parallel_chunks_min);
  REQUIRE((n + Conv2::chunk_samples - 1) / Conv2::chunk_samples >= Conv2::parallel_chunks_min);
  Rng rng(5);
  std::vector<float> x(static_cast<std::size_t>(n) * ConvNet::input_shape::size);
  for (auto& v : x) v = rng.uniform(-1.f, 1.f);
  std::vector<int> labels(n);
  for (auto& l : labels) l = static_cast<int>(rng.below(7));
  auto step = [&](int t) {
    set_threads(t);
    auto net = std::make_unique<ConvNet>(3);
    const float* y = net->forward(x.data(), n);
    std::vector<float> dy(static_cast<std::size_t>(n) * 7);
    CrossEntropyLoss::compute(y, labels.data(), n, 7, dy.data());
    net->zero_grad();
    net->backward(dy.data());
    return std::pair{std::vector<float>(y, y + static_cast<std::size_t>(n) * 7),
                     std::vector<float>(net->gradients().begin(), net->gradients().end())};
  };
  const int before = threads();
  const auto one = step(1);
  const auto two = step(2);
  set_threads(before);
  CHECK(one.first == two.first);
  CHECK(one.second == two.second);
}

TEST_CASE("dropout: masks are reproducible from the seed and differ between steps") {
  using Net = Sequential<Input<100, 1, 1>, Dropout<0.5f>>;
  std::vector<float> x(100, 1.f);
  Net a(1), b(1);
  const float* first_a = a.forward(x.data(), 1);
  const float* first_b = b.forward(x.data(), 1);
  CHECK(std::equal(first_a, first_a + 100, first_b));
  int kept = 0;
  for (int i = 0; i < 100; ++i) kept += first_a[i] != 0.f;
  CHECK(kept > 30);
  CHECK(kept < 70);
  // The next training step draws another mask, the same in both networks.
  const std::vector<float> first(first_a, first_a + 100);
  const float* second_a = a.forward(x.data(), 1);
  const float* second_b = b.forward(x.data(), 1);
  CHECK(std::equal(second_a, second_a + 100, second_b));
  CHECK(!std::equal(second_a, second_a + 100, first.begin()));
  a.eval();
  const float* e = a.forward(x.data(), 1);
  CHECK(std::all_of(e, e + 100, [](float v) { return v == 1.f; }));
}
