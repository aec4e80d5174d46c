// Half-precision linear weights for inference (kernels/half.hpp, Sequential::use_half_linear_weights):
// the conversions against IEEE 754's rounding (known values, every half, and the processor's own
// F16C instructions), the product against float32 arithmetic, and a whole network against its
// float32 self within the tolerance the README states.
#include <doctest/doctest.h>

#include <algorithm>
#include <bit>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <memory>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>

#if defined(__x86_64__) && (defined(__GNUC__) || defined(__clang__))
#include <immintrin.h>
#define FERNET_TEST_F16C 1
#endif

using namespace fernet;
using fernet::networks::NetAdam;
using kernels::float_to_half;
using kernels::half_to_float;

namespace {
bool is_half_nan(std::uint16_t h) { return (h & 0x7c00u) == 0x7c00u && (h & 0x3ffu) != 0; }

#if FERNET_TEST_F16C
// The processor's conversions, compiled for F16C whatever the build's flags (a FERNET_DISPATCH
// build is compiled for the baseline) and called only where the processor has it.
__attribute__((target("f16c"))) float hardware_half_to_float(std::uint16_t h) {
  return _cvtsh_ss(static_cast<unsigned short>(h));
}
__attribute__((target("f16c"))) std::uint16_t hardware_float_to_half(float f) {
  return static_cast<std::uint16_t>(_cvtss_sh(f, _MM_FROUND_TO_NEAREST_INT));
}
#endif
}  // namespace

TEST_CASE("half: known values round to nearest, ties to even") {
  CHECK(float_to_half(0.f) == 0x0000);
  CHECK(float_to_half(-0.f) == 0x8000);
  CHECK(float_to_half(1.f) == 0x3c00);
  CHECK(float_to_half(-2.f) == 0xc000);
  CHECK(float_to_half(65504.f) == 0x7bff);              // the largest half
  CHECK(float_to_half(65519.99f) == 0x7bff);            // just below the midpoint to infinity
  CHECK(float_to_half(65520.f) == 0x7c00);              // the midpoint rounds to even: infinity
  CHECK(float_to_half(1e9f) == 0x7c00);
  CHECK(float_to_half(-INFINITY) == 0xfc00);
  CHECK(is_half_nan(float_to_half(NAN)));
  CHECK(float_to_half(0x1p-14f) == 0x0400);             // the smallest normal
  CHECK(float_to_half(0x1p-24f) == 0x0001);             // the smallest subnormal
  CHECK(float_to_half(0x1p-25f) == 0x0000);             // half of it: a tie, to even (zero)
  CHECK(float_to_half(0x1.8p-24f) == 0x0002);           // 1.5 subnormal steps: a tie, to even (2)
  CHECK(float_to_half(0x1.000002p-25f) == 0x0001);      // just above the tie
  CHECK(float_to_half(1.f + 0x1p-11f) == 0x3c00);       // a tie between 1 and 1+2^-10: even (1)
  CHECK(float_to_half(1.f + 0x1.8p-10f) == 0x3c02);     // a tie between 1+2^-10 and 1+2^-9: even
  CHECK(float_to_half(0x1.ffep-15f) == 0x0400);         // subnormal rounding up into the normals
  CHECK(half_to_float(0x3555) == 0.333251953125f);
  CHECK(half_to_float(0x0001) == 0x1p-24f);
  CHECK(half_to_float(0x83ff) == -0x1.ff8p-15f);
  CHECK(std::isinf(half_to_float(0x7c00)));
  CHECK(std::isnan(half_to_float(0x7e00)));
}

TEST_CASE("half: every half survives the trip through float") {
  int mismatches = 0;
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const auto half = static_cast<std::uint16_t>(h);
    const std::uint16_t back = float_to_half(half_to_float(half));
    if (is_half_nan(half) ? !is_half_nan(back) : back != half) ++mismatches;
  }
  CHECK(mismatches == 0);
}

TEST_CASE("half: the conversions agree with the processor's F16C instructions") {
#if FERNET_TEST_F16C
  if (!__builtin_cpu_supports("f16c")) {
    std::printf("[fernet: skipped] this processor has no F16C, so there are no hardware conversions to compare\n");
    return;
  }
  int to_float = 0, to_half = 0;
  for (std::uint32_t h = 0; h <= 0xffffu; ++h) {
    const float hw = hardware_half_to_float(static_cast<std::uint16_t>(h)), sw = half_to_float(static_cast<std::uint16_t>(h));
    if (std::bit_cast<std::uint32_t>(hw) != std::bit_cast<std::uint32_t>(sw) && !(std::isnan(hw) && std::isnan(sw)))
      ++to_float;
  }
  // A stride through all 2^32 float patterns (an odd stride reaches every low-bit pattern, so
  // ties and near-ties occur), plus every float within a few units of each half midpoint.
  auto check = [&](std::uint32_t bits) {
    const float f = std::bit_cast<float>(bits);
    const std::uint16_t hw = hardware_float_to_half(f), sw = float_to_half(f);
    if (hw != sw && !(is_half_nan(hw) && is_half_nan(sw))) ++to_half;
  };
  for (std::uint64_t bits = 0; bits <= 0xffffffffull; bits += 4099) check(static_cast<std::uint32_t>(bits));
  for (std::uint32_t h = 0; h < 0x7c00u; ++h) {
    const std::uint32_t mid = std::bit_cast<std::uint32_t>(half_to_float(static_cast<std::uint16_t>(h))) + 0x1000u;
    for (std::uint32_t d = 0; d < 5; ++d) {
      check(mid - 2 + d);
      check((mid - 2 + d) | 0x80000000u);
    }
  }
  CHECK(to_float == 0);
  CHECK(to_half == 0);
#else
  std::printf("[fernet: skipped] F16C is an x86-64 instruction set; this build is for another processor\n");
#endif
}

namespace {
// Y = X W^T with W widened from halves, in double: what linear_half must compute up to float
// rounding of its sums.
std::vector<double> reference_product(int n, int out, int in, const std::vector<float>& x,
                                      const std::vector<std::uint16_t>& w) {
  std::vector<double> y(static_cast<std::size_t>(n) * out);
  for (int s = 0; s < n; ++s)
    for (int o = 0; o < out; ++o) {
      double sum = 0;
      for (int i = 0; i < in; ++i) sum += double(x[s * in + i]) * half_to_float(w[static_cast<std::size_t>(o) * in + i]);
      y[static_cast<std::size_t>(s) * out + o] = sum;
    }
  return y;
}
}  // namespace

TEST_CASE("half: the product matches float arithmetic, with and without SIMD, on 1 and 2 threads") {
  struct Size {
    int n, out, in;
  };
  for (const Size sz : {Size{1, 1024, 2048}, Size{3, 70, 37}, Size{4, 256, 1024}, Size{5, 9, 16}, Size{17, 33, 300}}) {
    CAPTURE(sz.n);
    CAPTURE(sz.in);
    Rng rng(static_cast<std::uint64_t>(sz.n * 1000 + sz.in));
    std::vector<float> x(static_cast<std::size_t>(sz.n) * sz.in), wf(static_cast<std::size_t>(sz.out) * sz.in);
    for (auto& v : x) v = rng.uniform(-1.f, 1.f);
    for (auto& v : wf) v = rng.uniform(-0.05f, 0.05f);
    std::vector<std::uint16_t> w(wf.size());
    kernels::floats_to_halves(wf.data(), w.data(), wf.size());
    const auto ref = reference_product(sz.n, sz.out, sz.in, x, w);

    auto run = [&](bool simd, int thread_count) {
      const int saved = threads();
      use_simd(simd);
      set_threads(thread_count);
      std::vector<float> y(ref.size());
      kernels::linear_half(sz.n, sz.out, sz.in, x.data(), w.data(), y.data());
      use_simd(true);
      set_threads(saved);
      return y;
    };
    const auto one = run(true, 1), two = run(true, 2), plain = run(false, 1);
    CHECK(one == two);  // each output is one thread's sum: bit for bit
    double worst = 0, worst_plain = 0;
    for (std::size_t i = 0; i < ref.size(); ++i) {
      const double scale = 1e-6 * std::sqrt(double(sz.in)) + 1e-7;
      worst = std::max(worst, std::abs(one[i] - ref[i]) / scale);
      worst_plain = std::max(worst_plain, std::abs(plain[i] - ref[i]) / scale);
    }
    CHECK(worst < 1.0);
    CHECK(worst_plain < 1.0);
  }
}

TEST_CASE("half: NetAdam with half linear weights stays within the stated tolerance of float32") {
  auto net = std::make_unique<NetAdam>(7);
  net->eval();
  const int n = 24;
  Rng rng(5);
  std::vector<float> x(static_cast<std::size_t>(n) * NetAdam::input_shape::size);
  for (auto& v : x) v = rng.uniform(0.f, 1.f);
  auto outputs = [&](int batch) {  // the n samples in batches of `batch`
    std::vector<float> y;
    for (int s = 0; s < n; s += batch) {
      const int m = std::min(batch, n - s);
      const float* out = net->forward(x.data() + static_cast<std::size_t>(s) * NetAdam::input_shape::size, m);
      y.insert(y.end(), out, out + m * NetAdam::classes);
    }
    return y;
  };
  auto max_diff = [](const std::vector<float>& a, const std::vector<float>& b) {
    float d = 0.f;
    for (std::size_t i = 0; i < a.size(); ++i) d = std::max(d, std::abs(a[i] - b[i]));
    return d;
  };
  auto argmaxes = [](const std::vector<float>& y) {
    std::vector<int> a;
    for (std::size_t i = 0; i < y.size(); i += NetAdam::classes)
      a.push_back(static_cast<int>(std::max_element(y.begin() + i, y.begin() + i + NetAdam::classes) - y.begin() - i));
    return a;
  };

  const auto full = outputs(1);
  net->use_half_linear_weights(true);
  const auto half1 = outputs(1), half4 = outputs(4), half24 = outputs(24);  // 24 > 16: the widened GEMM
  const float diff = max_diff(full, half1);
  MESSAGE("NetAdam log-probabilities, half vs float32 linear weights: max |difference| = " << diff);
  CHECK(diff > 0.f);     // the half path did run
  CHECK(diff < 1e-4f);   // measured 2.7e-6 (a seeded network's outputs are small; README: trained models)
  CHECK(argmaxes(full) == argmaxes(half1));
  CHECK(max_diff(half1, half4) < 1e-5f);   // the same rounded weights at any batch size
  CHECK(max_diff(half1, half24) < 1e-5f);

  // Changing the weights remakes the half copies at the next inference.
  for (float& p : net->parameters()) p *= 0.5f;
  net->use_half_linear_weights(false);
  const auto scaled_full = outputs(1);
  net->use_half_linear_weights(true);
  (void)outputs(1);
  for (float& p : net->parameters()) p *= 2.f;  // back to the original weights, exactly
  CHECK(max_diff(outputs(1), half1) == 0.f);
  CHECK(max_diff(scaled_full, half1) > 1e-2f);  // (the scaled network really was different)

  // Training forwards read the float32 weights whatever the switch says.
  net->train();
  net->freeze_noise(true);
  const float* t = net->forward(x.data(), n);
  const std::vector<float> train_half(t, t + n * NetAdam::classes);
  net->use_half_linear_weights(false);
  t = net->forward(x.data(), n);
  CHECK(std::equal(train_half.begin(), train_half.end(), t));
}
