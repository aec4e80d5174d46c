// fernet_cuda_info: lists the CUDA devices, opens a backend on one (default 0) and runs a small
// self-check of the kernels against plain loops (GEMM in all four transpose combinations, both
// reduction shapes, an element-wise op, the loss). Ordinary C++: it links fernet::cuda like any
// consumer. Exit status: 0 passed, 77 no CUDA device (CTest: skipped), 1 the backend failed, 2 a result differs.
#include <cmath>
#include <cstdio>
#include <cstdlib>
#include <exception>
#include <string>
#include <vector>

#include "fernet/device/cuda_backend.hpp"

namespace {

using fernet::device::Backend;
using fernet::device::DeviceArray;

int failures = 0;

void expect_close(const char* what, const std::vector<float>& got, const std::vector<float>& want, float tol) {
  float worst = 0.f;
  for (std::size_t i = 0; i < want.size(); ++i)
    worst = std::fmax(worst, std::fabs(got[i] - want[i]) / std::fmax(1.f, std::fabs(want[i])));
  const bool ok = got.size() == want.size() && worst <= tol;
  std::printf("  %-28s %s (max rel. error %.2g)\n", what, ok ? "ok" : "FAILED", worst);
  if (!ok) ++failures;
}

std::vector<float> ramp(std::size_t n, float scale) {
  std::vector<float> v(n);
  for (std::size_t i = 0; i < n; ++i) v[i] = scale * static_cast<float>(static_cast<long>((i * 7919) % 23) - 11);
  return v;
}

void check_gemm(Backend& be, bool ta, bool tb) {
  const int m = 37, n = 29, k = 53;
  const int lda = ta ? m : k, ldb = tb ? k : n, ldc = n;
  const auto a = ramp(static_cast<std::size_t>(m) * k, 0.1f), b = ramp(static_cast<std::size_t>(k) * n, 0.05f);
  const auto c0 = ramp(static_cast<std::size_t>(m) * n, 0.2f);
  const float alpha = 1.5f, beta = 0.5f;
  std::vector<float> want(c0);
  for (int i = 0; i < m; ++i)
    for (int j = 0; j < n; ++j) {
      double s = 0;
      for (int p = 0; p < k; ++p)
        s += static_cast<double>(ta ? a[p * lda + i] : a[i * lda + p]) * (tb ? b[j * ldb + p] : b[p * ldb + j]);
      want[i * ldc + j] = static_cast<float>(alpha * s + beta * c0[i * ldc + j]);
    }
  DeviceArray<float> da(be), db(be), dc(be);
  da.upload(a.data(), a.size());
  db.upload(b.data(), b.size());
  dc.upload(c0.data(), c0.size());
  be.gemm(ta, tb, m, n, k, alpha, da.data(), lda, db.data(), ldb, beta, dc.data(), ldc);
  std::vector<float> got(want.size());
  dc.download(got.data());
  const std::string what = std::string("gemm ") + (ta ? "T" : "N") + (tb ? "T" : "N");
  expect_close(what.c_str(), got, want, 1e-4f);
}

void self_check(Backend& be) {
  for (bool ta : {false, true})
    for (bool tb : {false, true}) check_gemm(be, ta, tb);

  // More rows than the grid has blocks, and rows longer than a block: both strides run.
  const long rows = 70000, cols = 300;
  const auto a = ramp(static_cast<std::size_t>(rows * cols), 0.01f);
  DeviceArray<float> da(be), acc(be);
  da.upload(a.data(), a.size());
  std::vector<float> want_rows(rows, 1.f), want_cols(cols, -1.f), got;
  for (long r = 0; r < rows; ++r) {
    double s = 0;
    for (long c = 0; c < cols; ++c) s += a[r * cols + c];
    want_rows[r] += static_cast<float>(s);
  }
  for (long c = 0; c < cols; ++c) {
    double s = 0;
    for (long r = 0; r < rows; ++r) s += a[r * cols + c];
    want_cols[c] += static_cast<float>(s);
  }
  std::vector<float> init(rows, 1.f);
  acc.upload(init.data(), init.size());
  be.accumulate_row_sums(da.data(), rows, cols, acc.data());
  got.assign(rows, 0.f);
  acc.download(got.data());
  expect_close("accumulate_row_sums", got, want_rows, 1e-5f);

  init.assign(cols, -1.f);
  acc.upload(init.data(), init.size());
  be.accumulate_column_sums(da.data(), rows, cols, acc.data());
  got.assign(cols, 0.f);
  acc.download(got.data());
  expect_close("accumulate_column_sums", got, want_cols, 1e-5f);

  DeviceArray<float> dy(be, a.size());
  be.relu_forward(da.data(), dy.data(), static_cast<long>(a.size()));
  be.relu_forward(da.data(), dy.data(), 0);  // empty: launches nothing
  std::vector<float> want(a.size());
  for (std::size_t i = 0; i < a.size(); ++i) want[i] = a[i] > 0.f ? a[i] : 0.f;
  got.assign(a.size(), 0.f);
  dy.download(got.data());
  expect_close("relu_forward", got, want, 0.f);

  // Cross-entropy of 3 samples x 4 classes: loss sum and correct count.
  const int n = 3, k = 4;
  const std::vector<float> z = {1, 2, 3, 4, 0, 0, 5, 0, -1, 2, 0, 1};
  const std::vector<int> labels = {3, 0, 1};
  double loss = 0;
  for (int r = 0; r < n; ++r) {
    double m = z[r * k], s = 0;
    for (int j = 1; j < k; ++j) m = std::fmax(m, z[r * k + j]);
    for (int j = 0; j < k; ++j) s += std::exp(z[r * k + j] - m);
    loss += m + std::log(s) - z[r * k + labels[r]];
  }
  DeviceArray<float> dz(be), grad(be, n * k), scratch(be, 2 * n), result(be, 2);
  DeviceArray<int> dl(be);
  dz.upload(z.data(), z.size());
  dl.upload(labels.data(), labels.size());
  be.loss(dz.data(), dl.data(), n, k, false, 0.f, grad.data(), scratch.data(), result.data());
  got.assign(2, 0.f);
  result.download(got.data());
  expect_close("loss (sum, correct)", got, {static_cast<float>(loss), 2.f}, 1e-5f);
  be.synchronize();
}

}  // namespace

int main(int argc, char** argv) {
  const int index = argc > 1 ? std::atoi(argv[1]) : 0;
  std::string why;
  const int count = fernet::cuda::device_count(&why);
  std::printf("%s", fernet::cuda::devices_report().c_str());
  if (count == 0) {
    std::fprintf(stderr, "fernet: no CUDA device available (%s)\n", why.c_str());
    return 77;  // "skipped" for CTest: nothing to check here
  }
  try {
    auto be = fernet::cuda::make_backend(index);
    std::printf("backend %s\n", be->name().c_str());
    self_check(*be);
  } catch (const std::exception& e) {
    std::fprintf(stderr, "%s\n", e.what());
    return 1;
  }
  std::printf(failures ? "self-check FAILED (%d)\n" : "self-check passed\n", failures);
  return failures ? 2 : 0;
}
