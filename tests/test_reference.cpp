// fernet against PyTorch: forward values, loss, input and parameter gradients, batch-norm running
// statistics, an eval-mode forward after one SGD step, and one or two steps of each optimiser.
// The reference values come from tests/reference/make_reference.py (float64 arithmetic on the
// same float32 parameters and inputs), so the tolerances bound fernet's float32 error.
#include <doctest/doctest.h>

#include <cmath>
#include <iomanip>
#include <limits>
#include <span>
#include <sstream>
#include <string>
#include <vector>

#include <fernet/fernet.hpp>

#include "reference/reference_values.hpp"

using namespace fernet;
namespace ref = fernet_reference;

namespace {

// Passes when |got - want| <= atol + rtol * |want| everywhere; on failure names the worst index.
void check_close(const std::string& what, std::span<const float> got, std::span<const float> want, double rtol,
                 double atol) {
  INFO(what);
  REQUIRE(got.size() == want.size());
  if (got.empty()) return;
  double worst = 0;
  std::size_t at = 0;
  for (std::size_t i = 0; i < got.size(); ++i) {
    const double err = std::abs(double(got[i]) - want[i]) / (atol + rtol * std::abs(want[i]));
    if (!(err <= worst)) {  // a NaN counts as infinitely wrong
      worst = std::isnan(err) ? std::numeric_limits<double>::infinity() : err;
      at = i;
    }
  }
  std::ostringstream worst_at;
  worst_at << std::setprecision(9) << "worst index " << at << ": fernet " << got[at] << ", PyTorch " << want[at]
           << " (error " << std::setprecision(3) << worst << " x tolerance)";
  INFO(worst_at.str());
  CHECK(worst <= 1.0);
}

struct Reference {
  std::span<const float> params, buffers, input;
  const int* labels;
  std::span<const float> output, loss, input_grad, grads, buffers_after, eval_output;
};

// Float32 arithmetic against a float64 reference: forward values and losses to ~1e-6 relative;
// gradients go through more sums (and batch norm's cancellations), hence the wider tolerance.
constexpr double forward_rtol = 1e-5, forward_atol = 1e-6;
constexpr double grad_rtol = 1e-4, grad_atol = 1e-6;

template <class Net, class Loss>
void check_network(const Reference& r) {
  Net net(0);
  REQUIRE(net.parameters().size() == r.params.size());
  REQUIRE(net.buffers().size() == r.buffers.size());
  std::copy(r.params.begin(), r.params.end(), net.parameters().begin());
  std::copy(r.buffers.begin(), r.buffers.end(), net.buffers().begin());

  net.train();
  const int n = ref::batch, k = ref::classes;
  const float* y = net.forward(r.input.data(), n);
  check_close("output", {y, static_cast<std::size_t>(n) * k}, r.output, forward_rtol, forward_atol);

  std::vector<float> dy(static_cast<std::size_t>(n) * k), dx(r.input.size());
  const float loss = Loss::compute(y, r.labels, n, k, dy.data());
  check_close("loss", {&loss, 1}, r.loss, forward_rtol, forward_atol);

  net.zero_grad();
  net.backward(dy.data(), dx.data());
  check_close("input gradient", dx, r.input_grad, grad_rtol, grad_atol);
  check_close("parameter gradients", net.gradients(), r.grads, grad_rtol, grad_atol);
  check_close("running statistics after the training forward", net.buffers(), r.buffers_after, forward_rtol,
              forward_atol);

  if (r.eval_output.empty()) return;
  // The step uses fernet's own gradients, hence the gradient tolerance.
  SGD(net, {.lr = 0.1f}).step();
  net.eval();
  const float* ye = net.forward(r.input.data(), n);
  check_close("eval-mode output after one SGD step", {ye, static_cast<std::size_t>(n) * k}, r.eval_output, grad_rtol,
              grad_atol);
}

template <class Optimiser>
void check_steps(const char* what, typename Optimiser::Options o, int steps, std::span<const float> want) {
  std::vector<float> p(std::begin(ref::plain_params), std::end(ref::plain_params));
  const std::span<const float> g = ref::plain_grads;
  Optimiser opt(std::span<float>(p), g, o);
  for (int s = 0; s < steps; ++s) opt.step();
  // Element-wise updates from the same float32 inputs: only rounding separates the two.
  check_close(what, p, want, 1e-5, 1e-7);
}

}  // namespace

TEST_CASE("PyTorch reference: conv, batch norm, max pool, linear, log-softmax + NLL") {
  using Net = Sequential<Input<2, 8, 8>, Conv<2, 4, 3, 1, 1>, BatchNorm2d<4>, ReLU, Pool<2>, Conv<4, 6, 3, 2, 1, false>,
                         ReLU, Flatten, Linear<24, 5>, LogSoftmax>;
  check_network<Net, NLLLoss>({ref::plain_params, ref::plain_buffers, ref::plain_input, ref::plain_labels,
                               ref::plain_output, ref::plain_loss, ref::plain_input_grad, ref::plain_grads,
                               ref::plain_buffers_after, ref::plain_eval_output});
}

TEST_CASE("PyTorch reference: residual blocks, global average pool, cross-entropy") {
  using Net = Sequential<
      Input<3, 6, 6>, Conv<3, 4, 3, 1, 1>, ReLU,
      Residual<Chain<Conv<4, 4, 3, 1, 1>, BatchNorm2d<4>, ReLU, Conv<4, 4, 3, 1, 1>>>,
      Residual<Chain<Conv<4, 6, 3, 2, 1, false>, BatchNorm2d<6>>, Chain<Conv<4, 6, 1, 2, 0, false>, BatchNorm2d<6>>>,
      ReLU, GlobalAvgPool, Flatten, Linear<6, 5>>;
  check_network<Net, CrossEntropyLoss>({ref::residual_params, ref::residual_buffers, ref::residual_input,
                                        ref::residual_labels, ref::residual_output, ref::residual_loss,
                                        ref::residual_input_grad, ref::residual_grads, ref::residual_buffers_after,
                                        ref::residual_eval_output});
}

TEST_CASE("PyTorch reference: TensorFlow 'SAME' convolutions and max pooling") {
  // 3x9x7: odd sizes, so the padding is asymmetric (even kernels, stride 2, pooling).
  using Net = Sequential<Input<3, 9, 7>, ConvSame<3, 4, 4>, ReLU, PoolSame<2, 2>, ConvSame<4, 5, 2, 1, false>, ReLU,
                         PoolSame<3, 2>, ConvSame<5, 4, 3, 2>, Flatten, Linear<8, 5>, LogSoftmax>;
  check_network<Net, NLLLoss>({ref::same_params,
                               {},
                               ref::same_input,
                               ref::same_labels,
                               ref::same_output,
                               ref::same_loss,
                               ref::same_input_grad,
                               ref::same_grads,
                               {},
                               {}});
}

TEST_CASE("PyTorch reference: SGD steps") {
  check_steps<SGD>("SGD lr 0.1", {.lr = 0.1f}, 1, ref::opt_sgd_step1);
  const SGD::Options momentum_wd{.lr = 0.1f, .momentum = 0.9f, .weight_decay = 1e-2f};
  check_steps<SGD>("SGD momentum + weight decay, step 1", momentum_wd, 1, ref::opt_sgd_momentum_wd_step1);
  check_steps<SGD>("SGD momentum + weight decay, step 2", momentum_wd, 2, ref::opt_sgd_momentum_wd_step2);
  check_steps<SGD>("SGD Nesterov, step 2", {.lr = 0.1f, .momentum = 0.9f, .nesterov = true}, 2,
                   ref::opt_sgd_nesterov_step2);
  check_steps<SGD>("SGD dampening, step 2", {.lr = 0.1f, .momentum = 0.9f, .dampening = 0.5f}, 2,
                   ref::opt_sgd_dampening_step2);
}

TEST_CASE("PyTorch reference: Adam and AdamW steps") {
  check_steps<Adam>("Adam, step 1", {.lr = 1e-2f}, 1, ref::opt_adam_step1);
  check_steps<Adam>("Adam, step 2", {.lr = 1e-2f}, 2, ref::opt_adam_step2);
  check_steps<Adam>("Adam weight decay, step 2", {.lr = 1e-2f, .weight_decay = 1e-2f}, 2, ref::opt_adam_wd_step2);
  check_steps<Adam>("AdamW, step 2", {.lr = 1e-2f, .weight_decay = 1e-1f, .decoupled = true}, 2, ref::opt_adamw_step2);
}

// Forward and backward of every element-wise activation in tests/activation_cases.def against
// PyTorch's module on the same input (with an exact 0, where the rule's convention shows).
TEST_CASE("PyTorch reference: element-wise activations (tests/activation_cases.def)") {
  constexpr std::size_t per_case = std::size(ref::activation_input);
  const std::vector<std::string> torch_modules = {
#define FERNET_ACTIVATION_CASE(Layer, Torch) Torch,
#include "activation_cases.def"
#undef FERNET_ACTIVATION_CASE
  };
  INFO(
      "regenerate tests/reference/reference_values.hpp with tests/reference/make_reference.py after "
      "changing tests/activation_cases.def");
  REQUIRE(torch_modules.size() == std::size(ref::activation_modules));
  for (std::size_t i = 0; i < torch_modules.size(); ++i) REQUIRE(torch_modules[i] == ref::activation_modules[i]);
  std::size_t index = 0;
  auto check = [&]<class Layer>() {
    using Net = Sequential<Input<2, 3, 3>, Layer>;
    const std::span<const float> want_y(ref::activation_outputs + index * per_case, per_case);
    const std::span<const float> want_dx(ref::activation_input_grads + index * per_case, per_case);
    ++index;
    Net net(0);
    const int n = static_cast<int>(per_case / Net::input_shape::size);
    const float* y = net.forward(ref::activation_input, n);
    check_close(Layer::name() + " forward", std::span<const float>(y, per_case), want_y, forward_rtol, forward_atol);
    std::vector<float> dx(per_case);
    net.backward(ref::activation_output_grad, dx.data());
    check_close(Layer::name() + " input gradient", dx, want_dx, forward_rtol, forward_atol);
  };
#define FERNET_ACTIVATION_CASE(Layer, Torch) check.template operator()<Layer>();
#include "activation_cases.def"
#undef FERNET_ACTIVATION_CASE
}
