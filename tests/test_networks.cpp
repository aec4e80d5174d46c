// The notebook networks: shapes and parameter counts equal PyTorch's (the counts of the
// notebook's modules and of torchvision's ResNets with its conv1/fc replacements, as sum(p.numel()
// for p in model.parameters()) gives them).
#include <doctest/doctest.h>

#include <algorithm>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>
#include <xtensor/xbuilder.hpp>

using namespace fernet;
using namespace fernet::networks;

TEST_CASE("notebook networks: parameter counts equal PyTorch's") {
  CHECK(LinearMLP::parameter_count == 2'639'623);
  CHECK(NetAdam::parameter_count == 2'470'151);
  CHECK(NetSGD::parameter_count == 2'470'151);
  CHECK(TfCNN::parameter_count == 78'335);
  CHECK(ResNet18::parameter_count == 11'173'824);
  CHECK(ResNet50::parameter_count == 23'516'096);
  CHECK(ResNet152::parameter_count == 58'151'872);
}

TEST_CASE("notebook networks: inferred shapes") {
  CHECK(std::is_same_v<NetAdam::output_shape, Shape<7, 1, 1>>);
  CHECK(std::is_same_v<TfCNN::input_shape, Shape<3, 48, 48>>);
  CHECK(std::is_same_v<ResNet18::output_shape, Shape<7, 1, 1>>);
  // Batch-norm running statistics are buffers, not parameters.
  CHECK(ResNet18::buffer_count == 2 * (64 + 4 * 64 + 4 * 128 + 4 * 256 + 4 * 512 + 128 + 256 + 512));
}

TEST_CASE("notebook networks: forward and backward run at a run-time batch size") {
  NetAdam net(30);
  std::vector<float> x(3 * 48 * 48, 0.5f);
  const float* y = net.forward(x.data(), 3);
  for (int i = 0; i < 3; ++i) {
    double s = 0;
    for (int j = 0; j < 7; ++j) s += std::exp(y[i * 7 + j]);
    CHECK(s == doctest::Approx(1.0).epsilon(1e-5));
  }
  std::vector<float> dy(3 * 7, 0.1f);
  net.zero_grad();
  net.backward(dy.data());
  double g = 0;
  for (float v : net.gradients()) g += std::abs(v);
  CHECK(g > 0);
}

namespace {
// infer() against forward() in evaluation mode, on a batch of three slices and a short one, at 1
// and 2 threads; the network is left in training mode to show that infer() ignores it.
template <class Net>
void check_infer_is_eval_forward(std::uint64_t seed) {
  Net net(seed);
  const int saved = threads();
  for (int t : {1, 2}) {
    set_threads(t);
    const int n = 3 * Net::infer_slice() + 1;
    CAPTURE(t);
    CAPTURE(n);
    std::vector<float> x(static_cast<std::size_t>(n) * Net::input_shape::size);
    Rng rng(seed + t);
    for (auto& v : x) v = rng.uniform(-1.f, 1.f);
    net.train();
    const float* yi = net.infer(x.data(), n);
    const std::vector<float> inferred(yi, yi + static_cast<std::size_t>(n) * Net::output_shape::size);
    CHECK(net.training());
    net.eval();
    const float* yf = net.forward(x.data(), n);
    CHECK(std::equal(inferred.begin(), inferred.end(), yf));
  }
  set_threads(saved);
}
}  // namespace

TEST_CASE("Sequential::infer: forward()'s outputs in evaluation mode, bit for bit, the image layers in slices") {
  // Each of these streams its image layers and not its dense head.
  static_assert(NetAdam::streamed_layers > 0 && NetAdam::streamed_layers < NetAdam::bound_layers);
  static_assert(TfCNN::streamed_layers > 0 && TfCNN::streamed_layers < TfCNN::bound_layers);
  static_assert(ResNet18::streamed_layers > 0 && ResNet18::streamed_layers < ResNet18::bound_layers);
  static_assert(VggFast::streamed_layers > 0 && VggFast::streamed_layers < VggFast::bound_layers);
  static_assert(LinearMLP::streamed_layers == 1);  // Flatten only
  check_infer_is_eval_forward<NetAdam>(3);
  check_infer_is_eval_forward<TfCNN>(4);
  check_infer_is_eval_forward<ResNet18>(5);
  check_infer_is_eval_forward<VggFast>(6);
  check_infer_is_eval_forward<LinearMLP>(7);
}

TEST_CASE("Sequential::infer: a network of image layers only streams all of them into its output") {
  using Net = Sequential<Input<2, 12, 12>, Conv<2, 4, 3>, ReLU, Pool<2>, Conv<4, 3, 3, 1, 1>>;
  static_assert(Net::streamed_layers == Net::bound_layers);
  check_infer_is_eval_forward<Net>(9);
}

TEST_CASE("Sequential::infer keeps nothing for backward: backward() after it is refused") {
  NetAdam net(8);
  std::vector<float> x(2 * 48 * 48, 0.25f), dy(2 * 7, 0.1f);
  net.infer(x.data(), 2);
  CHECK_THROWS_WITH_AS(net.backward(dy.data()), doctest::Contains("infer() keeps nothing"), std::logic_error);
  net.forward(x.data(), 2);
  CHECK_NOTHROW(net.backward(dy.data()));
  CHECK_THROWS_WITH_AS(net.infer(x.data(), 0), doctest::Contains("infer() needs a batch"), std::invalid_argument);
}

TEST_CASE("Sequential: xtensor input of the right shape; a wrong shape is refused with both shapes") {
  Sequential<Input<1, 6, 6>, Conv<1, 2, 3>, Flatten, Linear<32, 3>> net(1);
  net.eval();
  Tensor<4> x = xt::ones<float>({2, 1, 6, 6});
  const Tensor<2> y = net.forward(x);
  CHECK(y.shape()[0] == 2);
  CHECK(y.shape()[1] == 3);
  const float* raw = net.forward(x.data(), 2);
  CHECK(std::equal(raw, raw + 6, y.data()));
  Tensor<4> wrong = xt::ones<float>({2, 1, 5, 6});
  CHECK_THROWS_WITH_AS(net.forward(wrong), doctest::Contains("1x5x6"), std::invalid_argument);
  CHECK_THROWS_WITH_AS(net.forward(wrong), doctest::Contains("expects 1x6x6"), std::invalid_argument);
}

TEST_CASE("Sequential: xtensor output is an adaptor over the network's buffer; xtensor training step") {
  using Net = Sequential<Input<1, 6, 6>, Conv<1, 2, 3>, Flatten, Linear<32, 3>>;
  Net net(1), twin(1);
  Tensor<4> x = xt::linspace<float>(-1.f, 1.f, 2 * 36).reshape({2, 1, 6, 6});
  const auto y = net.forward(x);
  const float* raw = net.forward(x.data(), 2);  // the same buffer: the adaptor made no copy
  CHECK(&y(0, 0) == raw);
  CHECK(y.shape()[1] == 3);
  // train_step on xtensor inputs equals the raw-pointer step.
  const std::vector<int> labels = {2, 0};
  SGD a(net, {.lr = 0.1f}), b(twin, {.lr = 0.1f});
  const StepResult ra = net.train_step<CrossEntropyLoss>(x, labels, a);
  const StepResult rb = twin.train_step<CrossEntropyLoss>(x.data(), labels.data(), 2, b);
  CHECK(ra.loss_sum == rb.loss_sum);
  CHECK(std::equal(net.parameters().begin(), net.parameters().end(), twin.parameters().begin()));
  CHECK_THROWS_WITH_AS(net.train_step<CrossEntropyLoss>(x, std::vector<int>{1}, a), doctest::Contains("1 labels"),
                       std::invalid_argument);
  net.forward(x);
  Tensor<2> dy = xt::ones<float>({2, 3});
  net.zero_grad();
  net.backward(dy);
  Tensor<2> wrong = xt::ones<float>({3, 3});
  CHECK_THROWS_WITH_AS(net.backward(wrong), doctest::Contains("needs a 2x3 gradient"), std::invalid_argument);
}

// Without an input gradient to return, backward stops at the first layer with parameters
// (the MLP's Flatten and fc1's input gradient are skipped): parameter gradients are unchanged.
template <class Net>
void check_same_gradients_without_dx(int n) {
  Net a(3), b(3);
  Rng rng(5);
  std::vector<float> x(n * Net::input_shape::size), dy(n * Net::output_shape::size), dx(x.size());
  for (auto& v : x) v = rng.uniform(-1.f, 1.f);
  for (auto& v : dy) v = rng.uniform(-1.f, 1.f);
  a.forward(x.data(), n);
  b.forward(x.data(), n);
  a.zero_grad();
  b.zero_grad();
  a.backward(dy.data(), dx.data());
  b.backward(dy.data(), nullptr);
  CHECK(std::equal(a.gradients().begin(), a.gradients().end(), b.gradients().begin()));
}

TEST_CASE("backward without an input gradient skips only work nobody needs") {
  check_same_gradients_without_dx<LinearMLP>(4);
  check_same_gradients_without_dx<
      Sequential<Input<2, 6, 6>, ReLU, Pool<2>, Flatten, Linear<18, 5>, ReLU, Linear<5, 3>>>(3);
  check_same_gradients_without_dx<Sequential<Input<2, 6, 6>, Residual<Chain<ReLU>>, Conv<2, 3, 3>>>(2);
}
