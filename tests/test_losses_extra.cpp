// Label-smoothed and soft-target cross-entropy (fernet/losses/): against PyTorch's
// CrossEntropyLoss(label_smoothing=...) and CrossEntropyLoss with probability targets
// (tests/reference/make_losses_reference.py), numeric gradient checks for raw scores and
// log-probability inputs, and the plain loss as the eps = 0 case.
#include <doctest/doctest.h>

#include <cmath>
#include <functional>
#include <vector>

#include <fernet/loss.hpp>
#include <fernet/losses/label_smoothing.hpp>
#include <fernet/losses/soft_target.hpp>

#include "reference/losses_reference.hpp"

using namespace fernet;
namespace ref = fernet_losses_reference;

namespace {

constexpr int n = ref::rows, k = ref::classes;

// Central differences of loss(x) against the analytic gradient, entry by entry.
void gradcheck(std::vector<float> x, const std::function<float(const float*, float*)>& loss) {
  std::vector<float> grad(x.size());
  loss(x.data(), grad.data());
  const float h = 1e-2f;
  for (std::size_t i = 0; i < x.size(); ++i) {
    INFO("entry " << i);
    const float keep = x[i];
    x[i] = keep + h;
    const double up = loss(x.data(), nullptr);
    x[i] = keep - h;
    const double down = loss(x.data(), nullptr);
    x[i] = keep;
    CHECK(grad[i] == doctest::Approx((up - down) / (2 * h)).epsilon(1e-2).scale(1e-3));
  }
}

std::vector<float> log_softmax_rows(const float* z) {
  std::vector<float> out(n * k);
  for (int i = 0; i < n; ++i) {
    double m = z[i * k], s = 0;
    for (int j = 1; j < k; ++j) m = std::max(m, double(z[i * k + j]));
    for (int j = 0; j < k; ++j) s += std::exp(z[i * k + j] - m);
    for (int j = 0; j < k; ++j) out[i * k + j] = static_cast<float>(z[i * k + j] - m - std::log(s));
  }
  return out;
}

}  // namespace

TEST_CASE("label smoothing: loss and gradient equal PyTorch's CrossEntropyLoss(label_smoothing=0.1)") {
  std::vector<float> grad(n * k);
  const float loss = smoothed_cross_entropy(ref::logits, ref::labels, n, k, ref::smoothing, grad.data());
  CHECK(loss == doctest::Approx(ref::smoothed_loss[0]).epsilon(1e-6));
  for (int i = 0; i < n * k; ++i) CHECK(grad[i] == doctest::Approx(ref::smoothed_grad[i]).epsilon(1e-5).scale(1e-7));
  CHECK(SmoothedCrossEntropyLoss<0.1f>::compute(ref::logits, ref::labels, n, k) == loss);
  // On log-probabilities (a network ending in LogSoftmax) the loss is the same number.
  const auto logp = log_softmax_rows(ref::logits);
  CHECK(SmoothedNLLLoss<0.1f>::compute(logp.data(), ref::labels, n, k) == doctest::Approx(loss).epsilon(1e-6));
}

TEST_CASE("label smoothing: numeric gradients for scores and log-probabilities; eps = 0 is the plain loss") {
  const std::vector<float> x(std::begin(ref::logits), std::end(ref::logits));
  for (float eps : {0.f, 0.1f, 0.3f}) {
    INFO("eps " << eps);
    gradcheck(x, [&](const float* z, float* g) { return smoothed_cross_entropy(z, ref::labels, n, k, eps, g); });
    gradcheck(log_softmax_rows(x.data()),
              [&](const float* z, float* g) { return smoothed_cross_entropy(z, ref::labels, n, k, eps, g, true); });
  }
  std::vector<float> g0(n * k), g1(n * k);
  const float plain = CrossEntropyLoss::compute(ref::logits, ref::labels, n, k, g0.data());
  CHECK(smoothed_cross_entropy(ref::logits, ref::labels, n, k, 0.f, g1.data()) == doctest::Approx(plain).epsilon(1e-6));
  for (int i = 0; i < n * k; ++i) CHECK(g1[i] == doctest::Approx(g0[i]).epsilon(1e-6).scale(1e-8));
  CHECK_THROWS_WITH_AS(smoothed_cross_entropy(ref::logits, ref::labels, n, k, 1.5f),
                       "fernet::smoothed_cross_entropy: label smoothing must be in [0, 1], got 1.500000",
                       std::invalid_argument);
  const int bad[] = {0, 7, 1, 1};
  CHECK_THROWS_WITH_AS(smoothed_cross_entropy(ref::logits, bad, n, k, 0.1f),
                       "fernet::smoothed_cross_entropy: label 7 of sample 1 is outside 0..6", std::out_of_range);
}

TEST_CASE("soft targets: loss and gradient equal PyTorch's CrossEntropyLoss with probability targets") {
  std::vector<float> grad(n * k);
  const float loss = SoftTargetCrossEntropyLoss::compute(ref::logits, ref::soft_targets, n, k, grad.data());
  CHECK(loss == doctest::Approx(ref::soft_loss[0]).epsilon(1e-6));
  for (int i = 0; i < n * k; ++i) CHECK(grad[i] == doctest::Approx(ref::soft_grad[i]).epsilon(1e-5).scale(1e-7));
  const std::vector<float> x(std::begin(ref::logits), std::end(ref::logits));
  gradcheck(
      x, [&](const float* z, float* g) { return SoftTargetCrossEntropyLoss::compute(z, ref::soft_targets, n, k, g); });
  gradcheck(log_softmax_rows(x.data()),
            [&](const float* z, float* g) { return SoftTargetNLLLoss::compute(z, ref::soft_targets, n, k, g); });
}
