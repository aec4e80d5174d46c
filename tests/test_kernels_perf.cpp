// The fast kernels agree with their reference versions: compile-time-geometry im2col/col2im
// against the generic ones (bitwise: same additions in the same order), the vectorised sum.
#include <doctest/doctest.h>

#include <cstdio>

#include <cmath>
#include <string>
#include <vector>

#include <fernet/kernels/elementwise.hpp>
#include <fernet/kernels/im2col.hpp>
#include <fernet/random.hpp>

using namespace fernet;
using kernels::WindowGeometry;

namespace {
constexpr WindowGeometry geo(int c, int h, int w, int k, int s, int pt, int pl, int pb, int pr) {
  return {c, h, w, k, k, s, pt, pl, (h + pt + pb - k) / s + 1, (w + pl + pr - k) / s + 1};
}

// im2col/col2im of three samples side by side (rows padded) by another form against the generic
// ones. unroll(x, col, ld) and fold(col, dx, ld) do one sample and return false where the form
// does not exist here (then nothing is compared and this returns false).
template <class Unroll, class Fold>
bool check_against_generic(const WindowGeometry& g, Unroll unroll, Fold fold) {
  CAPTURE(g.channels);
  CAPTURE(g.height);
  CAPTURE(g.width);
  CAPTURE(g.kh);
  CAPTURE(g.stride);
  CAPTURE(g.pad_top);
  CAPTURE(g.pad_left);
  const int P = g.out_h * g.out_w, rows = g.channels * g.kh * g.kw, n = 3;
  const std::ptrdiff_t ld = static_cast<std::ptrdiff_t>(n) * P + 5;
  const std::size_t in = static_cast<std::size_t>(g.channels) * g.height * g.width;
  Rng rng(11);
  std::vector<float> x(in * n), col_a(rows * ld, -7.f), col_b(rows * ld, -7.f);
  for (auto& v : x) v = rng.uniform() - 0.5f;
  for (int s = 0; s < n; ++s) {
    kernels::im2col(x.data() + s * in, g, col_a.data() + s * P, ld);
    if (!unroll(x.data() + s * in, col_b.data() + s * P, ld)) return false;
  }
  CHECK(col_a == col_b);
  std::vector<float> dcol(rows * ld), dx_a(in * n, 3.f), dx_b(in * n, 3.f);
  for (auto& v : dcol) v = rng.uniform() - 0.5f;
  for (int s = 0; s < n; ++s) {
    kernels::col2im(dcol.data() + s * P, g, dx_a.data() + s * in, ld);
    REQUIRE(fold(dcol.data() + s * P, dx_b.data() + s * in, ld));
  }
  CHECK(dx_a == dx_b);
  return true;
}

// The compile-time forms (kernels::im2col_fixed / col2im_fixed), which always exist.
template <WindowGeometry G>
void check_geometry() {
  CHECK(check_against_generic(
      G,
      [](const float* x, float* col, std::ptrdiff_t ld) {
        kernels::im2col_fixed<G>(x, col, ld);
        return true;
      },
      [](const float* col, float* dx, std::ptrdiff_t ld) {
        kernels::col2im_fixed<G>(col, dx, ld);
        return true;
      }));
}
}  // namespace

TEST_CASE("kernels: compile-time im2col/col2im equal the generic ones") {
  check_geometry<geo(1, 48, 48, 3, 1, 0, 0, 0, 0)>();   // NetAdam conv1
  check_geometry<geo(32, 23, 23, 3, 1, 0, 0, 0, 0)>();  // conv2 (W > 16)
  check_geometry<geo(64, 12, 12, 3, 1, 1, 1, 1, 1)>();  // ResNet 3x3, pad 1
  check_geometry<geo(8, 3, 3, 3, 1, 1, 1, 1, 1)>();
  check_geometry<geo(4, 2, 2, 3, 1, 1, 1, 1, 1)>();
  check_geometry<geo(3, 48, 48, 4, 1, 1, 1, 2, 2)>();  // TF SAME, even kernel, asymmetric
  check_geometry<geo(8, 12, 12, 2, 1, 0, 0, 1, 1)>();
  check_geometry<geo(1, 48, 48, 7, 2, 3, 3, 3, 3)>();   // ResNet stem 7x7/2
  check_geometry<geo(16, 12, 12, 3, 2, 1, 1, 1, 1)>();  // 3x3/2
  check_geometry<geo(16, 7, 7, 3, 2, 1, 1, 1, 1)>();
  check_geometry<geo(16, 12, 12, 1, 2, 0, 0, 0, 0)>();  // 1x1/2 downsample
  check_geometry<geo(2, 9, 40, 5, 1, 2, 2, 2, 2)>();    // wide rows, several 16-lane chunks
  check_geometry<geo(2, 7, 7, 3, 3, 0, 0, 0, 0)>();     // stride 3, floor
}

namespace {
// The kernel set's stride-1 forms (run-time geometry); false: the kernels running here have none.
bool check_stride1(const WindowGeometry& g) {
  return check_against_generic(
      g, [&](const float* x, float* col, std::ptrdiff_t ld) { return kernels::im2col_stride1(x, g, col, ld); },
      [&](const float* col, float* dx, std::ptrdiff_t ld) { return kernels::col2im_stride1(col, g, dx, ld); });
}
}  // namespace

TEST_CASE("kernels: the kernel set's stride-1 im2col/col2im equal the generic ones") {
  const WindowGeometry cases[] = {
      geo(1, 48, 48, 3, 1, 0, 0, 0, 0),  geo(32, 23, 23, 3, 1, 0, 0, 0, 0), geo(64, 12, 12, 3, 1, 1, 1, 1, 1),
      geo(8, 3, 3, 3, 1, 1, 1, 1, 1),    geo(4, 2, 2, 3, 1, 1, 1, 1, 1),    geo(3, 48, 48, 4, 1, 1, 1, 2, 2),
      geo(8, 12, 12, 2, 1, 0, 0, 1, 1),  geo(2, 9, 40, 5, 1, 2, 2, 2, 2),   geo(1, 5, 33, 7, 1, 3, 3, 3, 3),
      geo(2, 16, 16, 3, 1, 0, 0, 0, 0)};
  for (const auto& g : cases)
    if (!check_stride1(g)) {
      std::printf("[fernet: skipped] the %s kernels have no stride-1 im2col form (AVX-512 only)\n",
                  kernels::active_kernel_set_name());
      return;
    }
  std::printf("[fernet] stride-1 im2col/col2im checked with the %s kernels\n", kernels::active_kernel_set_name());
}

TEST_CASE("kernels: vectorised sum agrees with a double-precision loop") {
  Rng rng(5);
  for (int n : {0, 1, 15, 16, 17, 1023, 1024, 1025, 5000, 211600}) {
    std::vector<float> x(n);
    for (auto& v : x) v = rng.uniform() * 4.f - 1.f;
    double ref = 0;
    for (float v : x) ref += v;
    CAPTURE(n);
    CHECK(std::abs(kernels::sum(x.data(), n) - ref) <= 1e-5 * (1.0 + std::abs(ref)));
  }
}

#include <fernet/layers/pool.hpp>

namespace {
template <class In>
void check_pool2x2() {
  using L = typename Pool<2>::template layer<In>;
  using Out = typename L::out_shape;
  const int n = 2;
  Rng rng(3);
  std::vector<float> x(n * In::size), dy(n * Out::size);
  for (auto& v : x) v = static_cast<float>(static_cast<int>(rng.uniform() * 5.f));  // many ties
  for (auto& v : dy) v = rng.uniform() - 0.5f;
  auto run = [&](bool simd) {
    use_simd(simd);
    L layer;
    std::vector<float> y(n * Out::size), dx(n * In::size, 9.f);
    layer.forward(x.data(), y.data(), n, Context{true, 0});
    layer.backward(x.data(), y.data(), dy.data(), dx.data(), n, Context{true, 0});
    use_simd(true);
    return std::pair{y, dx};
  };
  const auto [y1, dx1] = run(true);
  const auto [y0, dx0] = run(false);
  CHECK(y1 == y0);
  CHECK(dx1 == dx0);
}
}  // namespace

TEST_CASE("kernels: vectorised 2x2 max pooling equals the scalar loop (ties, odd sizes)") {
  // The vectorised 2x2 kernel exists for AVX-512 and AVX2 (kernels/pooling.hpp): with the
  // baseline kernels both runs take the scalar loop.
  const std::string kernels_used = kernels::active_kernel_set_name();
  if (kernels_used == "baseline") {
    std::printf("[fernet: skipped] the baseline kernels run here, so there is no vectorised 2x2 pooling to compare\n");
    return;
  }
  std::printf("[fernet] vectorised 2x2 pooling checked with the %s kernels\n", kernels_used.c_str());
  check_pool2x2<Shape<3, 46, 46>>();
  check_pool2x2<Shape<2, 21, 21>>();
  check_pool2x2<Shape<2, 8, 8>>();
  check_pool2x2<Shape<1, 5, 67>>();
  check_pool2x2<Shape<1, 2, 2>>();
  check_pool2x2<Shape<1, 4, 32>>();  // whole vectors only
  check_pool2x2<Shape<2, 7, 35>>();  // odd sizes: a last row and column in no window
}

namespace {
// The CPU layer's loop for other windows (clipped once per output, branch-free maximum) against
// the generic per-output rule the device backends run (kernels/element_rules.hpp).
int inside_checked = 0;  // geometries the run-time form for windows inside the plane ran on

template <class Spec, class In>
void check_pool_against_rule() {
  using L = typename Spec::template layer<In>;
  using Out = typename L::out_shape;
  const int n = 2;
  Rng rng(11);
  std::vector<float> x(n * In::size);
  for (auto& v : x) v = static_cast<float>(static_cast<int>(rng.uniform() * 4.f)) - 2.f;  // many ties
  L layer;
  std::vector<float> y(n * Out::size);
  layer.forward(x.data(), y.data(), n, Context{false, 0});
  std::vector<float> want(y.size());
  std::vector<int> arg(y.size());
  for (long i = 0; i < static_cast<long>(y.size()); ++i)
    kernels::maxpool_forward_at(x.data(), L::geometry, i, want.data(), arg.data());
  CHECK(y == want);
  // The kernel set's run-time form for windows inside the plane, where it has one.
  if (kernels::windows_inside(L::geometry)) {
    std::vector<float> y_inside(y.size(), -9.f);
    std::vector<int> arg_inside(y.size(), -1);
    if (kernels::max_pool_window_forward(x.data(), y_inside.data(), arg_inside.data(), n * In::channels, L::geometry)) {
      ++inside_checked;
      CHECK(y_inside == want);
      CHECK(arg_inside == arg);
    }
  }
  // The argmax decides the input gradient: a tie broken differently moves it.
  std::vector<float> dy(y.size()), dx(x.size(), 7.f), dx_want(x.size());
  for (std::size_t i = 0; i < dy.size(); ++i) dy[i] = static_cast<float>(i % 13) + 1.f;
  layer.backward(x.data(), y.data(), dy.data(), dx.data(), n, Context{false, 0});
  for (long i = 0; i < static_cast<long>(x.size()); ++i)
    dx_want[i] = kernels::maxpool_backward_at(dy.data(), arg.data(), L::geometry, i);
  CHECK(dx == dx_want);
}
}  // namespace

TEST_CASE("kernels: padded and 'SAME' max pooling equals the generic rule (ties at the borders)") {
  check_pool_against_rule<Pool<3, 2, 1>, Shape<2, 24, 24>>();  // ResNet's stem pooling
  check_pool_against_rule<Pool<3, 2, 1>, Shape<1, 7, 9>>();
  check_pool_against_rule<PoolSame<4, 2>, Shape<2, 11, 13>>();  // TensorFlow 'SAME', extra pad bottom/right
  check_pool_against_rule<Pool<3, 3>, Shape<1, 10, 8>>();
  // Windows inside the plane: the layer's form and the kernel set's run-time one.
  inside_checked = 0;
  check_pool_against_rule<PoolSame<4, 4>, Shape<3, 48, 48>>();  // TF-CNN's first pool
  check_pool_against_rule<Pool<4, 4>, Shape<2, 16, 37>>();      // rows of 9 windows, 1 column left over
  check_pool_against_rule<Pool<3, 2>, Shape<2, 11, 20>>();
  check_pool_against_rule<Pool<3, 3>, Shape<1, 10, 8>>();
  CHECK(inside_checked == 4);
}

#include <fernet/layers/conv.hpp>

namespace {
// The direct convolution forward (kernels/direct_conv.hpp) against the product it replaces,
// computed here: im2col of each sample, kernels::gemm, then the bias.
template <int Cin, int Cout, int K, class In>
void check_direct_conv(bool must_run) {
  using L = typename Conv<Cin, Cout, K>::template layer<In>;
  using Out = typename L::out_shape;
  constexpr int H = In::height, W = In::width, Ho = Out::height, Wo = Out::width, P = Ho * Wo, KK = Cin * K * K;
  const int n = 3;
  Rng rng(5);
  std::vector<float> params(L::param_count), grads(L::param_count), x(n * In::size), y(n * Out::size);
  for (auto& v : params) v = rng.uniform() - 0.5f;
  for (auto& v : x) v = rng.uniform() * 2.f - 1.f;
  L layer;
  layer.bind(params.data(), grads.data(), nullptr);
  layer.forward(x.data(), y.data(), n, Context{false, 0});
  std::vector<float> col(KK * P), out(Cout * P), ref(n * Out::size);
  for (int s = 0; s < n; ++s) {
    for (int c = 0; c < Cin; ++c)
      for (int ky = 0; ky < K; ++ky)
        for (int kx = 0; kx < K; ++kx)
          for (int h = 0; h < Ho; ++h)
            for (int w = 0; w < Wo; ++w)
              col[((c * K + ky) * K + kx) * P + h * Wo + w] = x[((s * Cin + c) * H + h + ky) * W + w + kx];
    kernels::gemm(kernels::Trans::no, kernels::Trans::no, Cout, P, KK, 1.f, params.data(), KK, col.data(), P, 0.f,
                  out.data(), P);
    for (int o = 0; o < Cout; ++o)
      for (int i = 0; i < P; ++i) ref[(s * Cout + o) * P + i] = out[o * P + i] + params[Cout * KK + o];
  }
  CAPTURE(Cin);
  CAPTURE(Cout);
  CAPTURE(K);
  CAPTURE(H);
  CAPTURE(W);
  CHECK(y == ref);
  // The direct form itself (the layer falls back to the product where it does not apply).
  std::vector<float> direct(n * Out::size, -1.f);
  const bool ran = kernels::direct_conv_forward<L::geometry>(x.data(), params.data(), params.data() + Cout * KK,
                                                             direct.data(), n, Cout);
  if (must_run) REQUIRE(ran);
  if (ran) CHECK(direct == ref);
}
}  // namespace

TEST_CASE("kernels: the single-channel convolution's direct forward equals im2col + GEMM bit for bit") {
  // Rows of 16 or more outputs fill a vector of every kernel set, so the direct form must run.
  check_direct_conv<1, 32, 3, Shape<1, 48, 48>>(true);  // NetAdam's first convolution
  check_direct_conv<1, 7, 3, Shape<1, 21, 37>>(true);   // odd sizes: a last vector overlapping the one before
  check_direct_conv<1, 4, 5, Shape<1, 9, 120>>(true);   // rows of more vectors than one block holds
  check_direct_conv<1, 5, 5, Shape<1, 24, 24>>(false);
  check_direct_conv<1, 3, 1, Shape<1, 17, 19>>(false);
}

TEST_CASE("kernels: the several-channel convolution's direct forward equals im2col + GEMM bit for bit") {
  // Planes of a register tile of pixels or more: the direct form must run.
  check_direct_conv<32, 64, 3, Shape<32, 23, 23>>(true);  // NetAdam's conv2
  check_direct_conv<3, 13, 3, Shape<3, 29, 31>>(true);    // channels past the last whole tile of MR
  check_direct_conv<5, 8, 1, Shape<5, 6, 30>>(true);      // 1x1: nothing dropped
  check_direct_conv<60, 9, 3, Shape<60, 25, 24>>(true);   // 540 products per output: two of the GEMM's k-blocks
  check_direct_conv<2, 3, 5, Shape<2, 40, 44>>(true);     // a 5x5 window, wide rows
  check_direct_conv<64, 128, 3, Shape<64, 10, 10>>(true);  // NetAdam's conv3
  check_direct_conv<7, 20, 2, Shape<7, 3, 4>>(true);        // a plane of 6 pixels: one tile
  check_direct_conv<4, 6, 3, Shape<4, 4, 5>>(false);        // a plane smaller than a tile: the product
}

#include <fernet/chain.hpp>
#include <fernet/kernels/conv_relu_pool.hpp>
#include <fernet/layers/fusions.hpp>

namespace {
// Conv<1, Cout, K>, ReLU, Pool<2> bound on the CPU: one layer (layers/fusions.hpp) whose output,
// and with an input gradient wanted its gradients, equal those of the three layers run one after
// another, bit for bit, with and without SIMD (the fused pass or its fallback); without one, its
// parameter gradients agree with the layers' to float rounding.
template <int Cout, int K, class In>
void check_conv_relu_pool() {
  using Fused = typename Chain<Conv<1, Cout, K>, ReLU, Pool<2>>::template layer<In>;
  static_assert(Fused::count == 1, "Conv<1,C,K>, ReLU, Pool<2> bind as one layer on the CPU");
  using ConvL = typename Conv<1, Cout, K>::template layer<In>;
  using Mid = typename ConvL::out_shape;
  using ReluL = typename ReLU::template layer<Mid>;
  using PoolL = typename Pool<2>::template layer<Mid>;
  using Out = typename PoolL::out_shape;
  const int n = 3;
  Rng rng(9);
  std::vector<float> params(ConvL::param_count), x(n * In::size), dy(n * Out::size);
  for (auto& v : params) v = rng.uniform() - 0.5f;
  for (auto& v : x) v = rng.uniform() * 2.f - 1.f;
  for (auto& v : dy) v = rng.uniform() - 0.5f;
  const Context ctx{true, 0};
  CAPTURE(Cout);
  CAPTURE(K);
  CAPTURE(In::height);
  CAPTURE(In::width);
  for (const bool simd : {true, false}) {
    CAPTURE(simd);
    use_simd(simd);
    std::vector<float> grads_a(ConvL::param_count, 0.f), conv_y(n * Mid::size), relu_y(n * Mid::size),
        y_a(n * Out::size), g_relu(n * Mid::size), g_conv(n * Mid::size), dx_a(n * In::size);
    ConvL conv;
    ReluL relu;
    PoolL pool;
    conv.bind(params.data(), grads_a.data(), nullptr);
    conv.forward(x.data(), conv_y.data(), n, ctx);
    relu.forward(conv_y.data(), relu_y.data(), n, ctx);
    pool.forward(relu_y.data(), y_a.data(), n, ctx);
    pool.backward(relu_y.data(), y_a.data(), dy.data(), g_relu.data(), n, ctx);
    relu.backward(conv_y.data(), relu_y.data(), g_relu.data(), g_conv.data(), n, ctx);
    conv.backward(x.data(), conv_y.data(), g_conv.data(), dx_a.data(), n, ctx);

    // With an input gradient: the layers' own backward passes after the fused forward.
    std::vector<float> grads_b(ConvL::param_count, 0.f), y_b(n * Out::size, -9.f), dx_b(n * In::size, -9.f);
    Fused fused;
    fused.bind(params.data(), grads_b.data(), nullptr);
    fused.forward(x.data(), y_b.data(), n, ctx);
    fused.backward(x.data(), y_b.data(), dy.data(), dx_b.data(), n, ctx);
    CHECK(y_b == y_a);
    CHECK(grads_b == grads_a);
    CHECK(dx_b == dx_a);

    // Without (a first layer): the fused backward, whose sums run in another order. Against the
    // sums in double of the convolution's gradient the layers apart produced (g_conv), within
    // float rounding of the terms' magnitude; backward() adds, so a second call doubles.
    std::vector<double> want(ConvL::param_count, 0.0), scale(ConvL::param_count, 0.0);
    for (int s = 0; s < n; ++s)
      for (int o = 0; o < Cout; ++o)
        for (int h = 0; h < Mid::height; ++h)
          for (int w = 0; w < Mid::width; ++w) {
            const double g = g_conv[((s * Cout + o) * Mid::height + h) * Mid::width + w];
            for (int ky = 0; ky < K; ++ky)
              for (int kx = 0; kx < K; ++kx) {
                const double t = g * x[(s * In::height + h + ky) * In::width + w + kx];
                want[(o * K + ky) * K + kx] += t;
                scale[(o * K + ky) * K + kx] += std::abs(t);
              }
            want[Cout * K * K + o] += g;
            scale[Cout * K * K + o] += std::abs(g);
          }
    for (const int calls : {1, 2}) {
      std::vector<float> grads_c(ConvL::param_count, 0.f), y_c(n * Out::size);
      Fused first;
      first.bind(params.data(), grads_c.data(), nullptr);
      first.forward(x.data(), y_c.data(), n, ctx);
      for (int c = 0; c < calls; ++c) first.backward(x.data(), y_c.data(), dy.data(), nullptr, n, ctx);
      CAPTURE(calls);
      int off = 0;
      for (std::size_t i = 0; i < want.size(); ++i)
        off += std::abs(grads_c[i] - calls * want[i]) > 1e-5 * calls * (scale[i] + 1e-3);
      CHECK(off == 0);
    }
  }
  use_simd(true);
  // The fused kernel itself, against the three kernels it joins (values and argmax); it must run
  // where the direct convolution does (rows of 16 or more fill every kernel set's vector).
  using PoolGeo = kernels::FixedWindow<PoolL::geometry>;
  std::vector<float> conv_y(n * Mid::size), y_a(n * Out::size), y_b(n * Out::size, -9.f);
  std::vector<int> arg_a(n * Out::size), arg_b(n * Out::size, -1);
  std::vector<float> unused(ConvL::param_count);
  ConvL conv;
  conv.bind(params.data(), unused.data(), nullptr);
  conv.forward(x.data(), conv_y.data(), n, ctx);
  const float* bias = params.data() + Cout * K * K;
  const bool ran = kernels::direct_conv_relu_pool_forward<ConvL::geometry, PoolL::geometry>(
      x.data(), params.data(), bias, y_b.data(), arg_b.data(), n, Cout);
  if (Mid::width >= 16) REQUIRE(ran);
  if (ran) {
    kernels::max_pool_forward_planes(conv_y.data(), y_a.data(), arg_a.data(), static_cast<long>(n) * Cout, PoolGeo{});
    kernels::relu_forward(y_a.data(), y_a.data(), static_cast<std::ptrdiff_t>(y_a.size()));
    CHECK(y_b == y_a);
    CHECK(arg_b == arg_a);
  }
}
}  // namespace

TEST_CASE("fusion: Conv<1,C,K>, ReLU, Pool<2> as one CPU layer equals the three layers") {
  check_conv_relu_pool<32, 3, Shape<1, 48, 48>>();  // NetAdam's first layers
  check_conv_relu_pool<7, 3, Shape<1, 21, 37>>();   // odd channels and sizes: ragged rows, a floor
  check_conv_relu_pool<4, 5, Shape<1, 9, 120>>();   // rows of more vectors than a block holds
  check_conv_relu_pool<3, 3, Shape<1, 12, 14>>();   // rows narrower than an AVX-512 vector
  check_conv_relu_pool<2, 3, Shape<1, 10, 35>>();   // pooled rows of whole vectors, an odd width
}

#include <fernet/kernels/batchnorm.hpp>

TEST_CASE("kernels: batch norm's channel passes agree with double-precision loops, vectorised and scalar") {
  Rng rng(17);
  const int n = 3;
  for (int plane : {4, 9, 25, 121, 484, 1936}) {
    // Each sample's plane sits `stride` floats after the previous one, as channel c's do.
    const std::ptrdiff_t stride = 2 * plane + 3;
    std::vector<float> x(n * stride), dy(n * stride);
    for (auto& v : x) v = 3.f + 2.f * (rng.uniform() - 0.5f);  // |mean| > std, as batch norm meets it
    for (auto& v : dy) v = rng.uniform() - 0.5f;
    double mean_ref = 0, var_ref = 0, sum_dy_ref = 0, sum_dyc_ref = 0;
    const double count = static_cast<double>(n) * plane;
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < plane; ++k) mean_ref += x[i * stride + k];
    mean_ref /= count;
    for (int i = 0; i < n; ++i)
      for (int k = 0; k < plane; ++k) {
        const double d = x[i * stride + k] - mean_ref;
        var_ref += d * d;
        sum_dy_ref += dy[i * stride + k];
        sum_dyc_ref += dy[i * stride + k] * d;
      }
    var_ref /= count;
    for (bool simd : {true, false}) {
      CAPTURE(plane);
      CAPTURE(simd);
      use_simd(simd);
      double mean = 0, var = 0, sum_dy = 0, sum_dyc = 0;
      kernels::batchnorm_statistics(x.data(), stride, n, plane, &mean, &var);
      CHECK(mean == doctest::Approx(mean_ref).epsilon(1e-6));
      CHECK(var == doctest::Approx(var_ref).epsilon(1e-5));
      // y = 2x - 1 (between the planes: untouched).
      std::vector<float> y(n * stride, -9.f), dx(n * stride, -9.f);
      kernels::batchnorm_scale_shift(x.data(), y.data(), stride, n, plane, 2.f, -1.f);
      kernels::batchnorm_backward_sums(x.data(), dy.data(), stride, n, plane, static_cast<float>(mean), &sum_dy,
                                       &sum_dyc);
      CHECK(sum_dy == doctest::Approx(sum_dy_ref).epsilon(1e-5));
      CHECK(sum_dyc == doctest::Approx(sum_dyc_ref).epsilon(1e-4));
      const float invstd = static_cast<float>(1 / std::sqrt(var_ref + 1e-5));
      const float k1 = 0.25f, k2 = -0.5f, gi = 1.5f * invstd;
      kernels::batchnorm_backward_input(x.data(), dy.data(), dx.data(), stride, n, plane, static_cast<float>(mean),
                                        invstd, gi, k1, k2);
      use_simd(true);
      int wrong = 0;
      for (int i = 0; i < n; ++i)
        for (std::ptrdiff_t k = 0; k < stride; ++k) {
          const std::ptrdiff_t at = i * stride + k;
          if (k >= plane) {
            wrong += y[at] != -9.f || dx[at] != -9.f;
            continue;
          }
          const double xhat = (x[at] - mean_ref) * invstd;
          const double want_dx = gi * (dy[at] - k1 - xhat * k2);
          wrong += std::abs(y[at] - (2.0 * x[at] - 1.0)) > 1e-6 * (1 + std::abs(2.0 * x[at]));
          wrong += std::abs(dx[at] - want_dx) > 1e-5 * (1 + std::abs(want_dx));
        }
      CHECK(wrong == 0);
    }
  }
}
