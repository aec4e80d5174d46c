// Numeric gradient checks: every layer (wrapped in a one- or two-layer Sequential), both
// losses, and a residual block, through the public fernet::gradcheck helper.
#include <doctest/doctest.h>

#include <cmath>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>

using namespace fernet;

namespace {
template <class Net>
void expect_gradients_match(int batch, GradcheckOptions opt = {}) {
  Net net(7);
  const auto r = gradcheck(net, batch, opt);
  INFO("worst: " << r.worst << " (" << r.failed << " of " << r.checked << " failed)");
  CHECK(r.checked > 0);
  CHECK(r.ok(opt));
}
// ReLU and max pooling have kinks; gradcheck retries a straddling difference with a smaller
// step, and deep stacks of them keep a small allowance, never a blanket pass.
GradcheckOptions with_kinks() {
  GradcheckOptions o;
  o.max_fail_fraction = 0.01;
  return o;
}
}  // namespace

TEST_CASE("gradcheck: Linear with and without bias") {
  expect_gradients_match<Sequential<Input<6, 1, 1>, Linear<6, 5>>>(3);
  expect_gradients_match<Sequential<Input<2, 2, 3>, Linear<12, 4, false>>>(2);
}

TEST_CASE("gradcheck: Conv (padding, stride, 1x1, no bias)") {
  expect_gradients_match<Sequential<Input<2, 7, 7>, Conv<2, 3, 3>>>(2);
  expect_gradients_match<Sequential<Input<2, 7, 6>, Conv<2, 3, 3, 2, 1>>>(2);
  expect_gradients_match<Sequential<Input<3, 5, 5>, Conv<3, 4, 1>>>(2);
  expect_gradients_match<Sequential<Input<3, 6, 6>, Conv<3, 4, 1, 2, 0, false>>>(2);
  expect_gradients_match<Sequential<Input<1, 9, 9>, Conv<1, 2, 7, 2, 3, false>>>(2);
}

TEST_CASE("gradcheck: ConvSame (TensorFlow padding, even kernels)") {
  expect_gradients_match<Sequential<Input<3, 6, 6>, ConvSame<3, 2, 4, 1, false>>>(2);
  expect_gradients_match<Sequential<Input<2, 5, 5>, ConvSame<2, 3, 2>>>(2);
}

TEST_CASE("gradcheck: max pooling (PyTorch and TensorFlow-same)") {
  expect_gradients_match<Sequential<Input<2, 6, 6>, Pool<2>>>(2, with_kinks());
  expect_gradients_match<Sequential<Input<2, 7, 7>, Pool<3, 2, 1>>>(2, with_kinks());
  expect_gradients_match<Sequential<Input<2, 7, 7>, PoolSame<2, 2>>>(2, with_kinks());
}

TEST_CASE("gradcheck: Conv<1,C,K>, ReLU, Pool<2> fused on the CPU (layers/fusions.hpp)") {
  // Rows of 16 or more outputs, so that the fused pass runs with every kernel set. With the input
  // gradient the layers' own backward passes run; without it (a first layer in training) the
  // fused one, whose parameter gradients are checked on their own.
  using Net = Sequential<Input<1, 6, 21>, Conv<1, 3, 3>, ReLU, Pool<2>>;
  expect_gradients_match<Net>(2, with_kinks());
  auto parameters_only = with_kinks();
  parameters_only.check_input = false;
  expect_gradients_match<Net>(2, parameters_only);
  using Wide = Sequential<Input<1, 7, 40>, Conv<1, 2, 5, 1, 0, false>, ReLU, Pool<2>, Flatten, Linear<2 * 1 * 18, 3>>;
  expect_gradients_match<Wide>(2, parameters_only);
}

TEST_CASE("gradcheck: ReLU, Flatten, LogSoftmax, GlobalAvgPool") {
  expect_gradients_match<Sequential<Input<3, 4, 4>, ReLU>>(2, with_kinks());
  expect_gradients_match<Sequential<Input<3, 2, 2>, Flatten, Linear<12, 3>>>(2);
  expect_gradients_match<Sequential<Input<7, 1, 1>, LogSoftmax>>(3);
  expect_gradients_match<Sequential<Input<3, 4, 5>, GlobalAvgPool>>(2);
}

TEST_CASE("gradcheck: Dropout in training mode (fixed mask)") {
  using Net = Sequential<Input<20, 1, 1>, Linear<20, 20>, Dropout<0.5f>>;
  Net net(3);
  const auto r = gradcheck(net, 4);
  INFO(r.worst);
  CHECK(r.ok());
}

TEST_CASE("gradcheck: BatchNorm2d in training and evaluation mode") {
  using Net = Sequential<Input<3, 4, 4>, BatchNorm2d<3>>;
  GradcheckOptions opt;
  {
    Net net(1);
    net.train();
    const auto r = gradcheck(net, 3, opt);
    INFO(r.worst);
    CHECK(r.ok(opt));
  }
  {
    Net net(1);
    net.eval();
    const auto r = gradcheck(net, 3, opt);
    INFO(r.worst);
    CHECK(r.ok(opt));
  }
}

TEST_CASE("gradcheck: residual blocks (identity and projection shortcuts)") {
  using networks::BasicBlock;
  expect_gradients_match<Sequential<Input<4, 6, 6>, BasicBlock<4, 4, 1>>>(3, with_kinks());
  expect_gradients_match<Sequential<Input<4, 6, 6>, BasicBlock<4, 8, 2>>>(3, with_kinks());
  expect_gradients_match<Sequential<Input<8, 4, 4>, networks::Bottleneck<8, 2, 2>>>(3, with_kinks());
  // Evaluation mode: batch norm uses its running statistics.
  using Block = Sequential<Input<4, 6, 6>, BasicBlock<4, 4, 1>>;
  Block net(3);
  net.eval();
  const auto opt = with_kinks();
  const auto r = gradcheck(net, 3, opt);
  INFO(r.worst);
  CHECK(r.ok(opt));
}

TEST_CASE("gradcheck: losses") {
  Rng rng(5);
  const int n = 4, k = 7;
  std::vector<float> z(n * k), grad(n * k);
  for (auto& v : z) v = rng.uniform(-2.f, 2.f);
  const int labels[n] = {0, 6, 3, 3};
  auto check_loss = [&](auto&& loss_fn) {
    loss_fn(z.data(), labels, n, k, grad.data());
    for (int i = 0; i < n * k; ++i) {
      const float saved = z[i];
      const float h = 1e-2f;
      z[i] = saved + h;
      const double up = loss_fn(z.data(), labels, n, k, nullptr);
      z[i] = saved - h;
      const double down = loss_fn(z.data(), labels, n, k, nullptr);
      z[i] = saved;
      CHECK(grad[i] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-2).scale(1e-2));
    }
  };
  check_loss(CrossEntropyLoss::compute);
  check_loss(NLLLoss::compute);
  CHECK_THROWS_AS(CrossEntropyLoss::compute(z.data(), std::array<int, 4>{0, 7, 0, 0}.data(), n, k), std::out_of_range);
}

TEST_CASE("gradcheck: a whole small CNN with every layer kind") {
  using Net =
      Sequential<Input<1, 10, 10>, Conv<1, 4, 3, 1, 1>, BatchNorm2d<4>, ReLU, Pool<2>, networks::BasicBlock<4, 4, 1>,
                 ConvSame<4, 6, 2, 1, false>, GlobalAvgPool, Flatten, Linear<6, 5>, Dropout<0.25f>, LogSoftmax>;
  Net net(11);
  auto opt = with_kinks();
  const auto r = gradcheck(net, 3, opt);
  INFO(r.worst << " (" << r.failed << " of " << r.checked << ")");
  CHECK(r.ok(opt));
}

namespace {
// A user-defined layer with a deliberately wrong backward (off by 10%): the helper must catch it.
struct BrokenScale : AnyShape {
  static std::string name() { return "BrokenScale"; }
  template <class InShape, class Exec = CpuExec>
  struct layer : ParameterFree<InShape, InShape, Exec> {
    using ParameterFree<InShape, InShape, Exec>::ParameterFree;
    void forward(const float* x, float* y, int n, const Context&) {
      for (std::size_t i = 0; i < n * InShape::size; ++i) y[i] = 3.f * x[i];
    }
    void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
      if (dx)
        for (std::size_t i = 0; i < n * InShape::size; ++i) dx[i] = 3.3f * dy[i];
    }
  };
};
}  // namespace

TEST_CASE("gradcheck: detects a wrong gradient in a user-defined layer") {
  Sequential<Input<2, 3, 3>, BrokenScale> net(1);
  const auto r = gradcheck(net, 2);
  CHECK_FALSE(r.ok());
  CHECK(r.failed == r.checked);
}

// Every element-wise activation of tests/activation_cases.def, behind a Linear layer so that its
// input has both signs and the gradient reaches parameters (kinks sit at 0, where random
// inputs never land).
TEST_CASE("gradcheck: element-wise activations (tests/activation_cases.def)") {
#define FERNET_ACTIVATION_CASE(Layer, Torch)                                              \
  {                                                                                       \
    INFO(Layer::name());                                                                  \
    expect_gradients_match<Sequential<Input<2, 3, 3>, Layer>>(3);                         \
    expect_gradients_match<Sequential<Input<2, 3, 3>, Flatten, Linear<18, 6>, Layer>>(2); \
  }
#include "activation_cases.def"
#undef FERNET_ACTIVATION_CASE
}
