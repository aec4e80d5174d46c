#pragma once
// Numeric gradient check for any network type (wrap a single layer as
// Sequential<Input<...>, YourLayer> to check it). The scalar checked is
// L = sum(output * R) for a fixed random R, so dL/doutput = R; analytic gradients from
// backward() are compared with central differences of L (computed in double).
#include <algorithm>
#include <cmath>
#include <string>
#include <vector>

#include "random.hpp"

namespace fernet {

struct GradcheckOptions {
  float epsilon = 1e-3f;            // finite-difference step (retried at a tenth near kinks)
  double atol = 2e-3, rtol = 2e-2;  // pass when |a - n| <= atol + rtol * max(|a|, |n|)
  int max_checks = 200;             // coordinates sampled per tensor (input, parameters)
  double max_fail_fraction = 0.0;   // allowance for kinks (ReLU at 0, max-pool ties)
  std::uint64_t seed = 1;
  // false: backward() without an input gradient, as training calls a network (its first layer
  // may then take another path: layers/fusions.hpp), and only the parameters are checked.
  bool check_input = true;
};

struct GradcheckResult {
  int checked = 0, failed = 0;
  double max_abs_error = 0.0;
  std::string worst;  // the coordinate with the largest error, described
  bool ok(const GradcheckOptions& o = {}) const { return failed <= o.max_fail_fraction * checked; }
};

template <class Net>
GradcheckResult gradcheck(Net& net, int batch, GradcheckOptions opt = {}) {
  using In = typename Net::input_shape;
  using Out = typename Net::output_shape;
  Rng rng(opt.seed);
  std::vector<float> x(static_cast<std::size_t>(batch) * In::size);
  for (auto& v : x) v = rng.uniform(-1.f, 1.f);
  std::vector<float> r(static_cast<std::size_t>(batch) * Out::size);
  for (auto& v : r) v = rng.uniform(-1.f, 1.f);

  net.freeze_noise(true);
  auto loss = [&]() {
    const float* y = net.forward(x.data(), batch);
    double s = 0.0;
    for (std::size_t i = 0; i < r.size(); ++i) s += static_cast<double>(y[i]) * r[i];
    return s;
  };
  loss();
  net.zero_grad();
  std::vector<float> dx(x.size());
  net.backward(r.data(), opt.check_input ? dx.data() : nullptr);
  std::vector<float> dparams(net.gradients().begin(), net.gradients().end());

  GradcheckResult res;
  auto numeric_at = [&](float* live, float h) {
    const float saved = *live;
    *live = saved + h;
    const double up = loss();
    *live = saved - h;
    const double down = loss();
    *live = saved;
    return (up - down) / (2.0 * static_cast<double>(h));
  };
  auto agrees = [&](double numeric, double analytic) {
    return std::abs(numeric - analytic) <= opt.atol + opt.rtol * std::max(std::abs(numeric), std::abs(analytic));
  };
  auto check = [&](std::size_t i, float analytic, const char* what, float* live) {
    double numeric = numeric_at(live, opt.epsilon);
    // A difference that straddles a kink (ReLU at 0, a max-pool switch) is wrong, not the
    // analytic gradient: retry with a 10x smaller step before calling it a failure.
    if (!agrees(numeric, analytic)) numeric = numeric_at(live, opt.epsilon * 0.1f);
    const double err = std::abs(numeric - analytic);
    ++res.checked;
    if (!agrees(numeric, analytic)) ++res.failed;
    if (err > res.max_abs_error) {
      res.max_abs_error = err;
      res.worst = std::string(what) + "[" + std::to_string(i) + "]: analytic " + std::to_string(analytic) +
                  ", numeric " + std::to_string(numeric);
    }
  };
  auto sample = [&](std::size_t n) {
    std::vector<std::size_t> idx;
    if (n <= static_cast<std::size_t>(opt.max_checks)) {
      for (std::size_t i = 0; i < n; ++i) idx.push_back(i);
    } else {
      for (int k = 0; k < opt.max_checks; ++k) idx.push_back(rng.below(n));
    }
    return idx;
  };
  if (opt.check_input)
    for (std::size_t i : sample(x.size())) check(i, dx[i], "input", &x[i]);
  auto params = net.parameters();
  for (std::size_t i : sample(params.size())) check(i, dparams[i], "parameter", &params[i]);
  net.freeze_noise(false);
  return res;
}

}  // namespace fernet
