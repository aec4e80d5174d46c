#include <cstdio>
#include <fernet/fernet.hpp>

using Net = fernet::Sequential<fernet::Input<1, 8, 8>, fernet::Conv<1, 4, 3>, fernet::ReLU,
                               fernet::Pool<2>, fernet::Flatten, fernet::Linear<36, 3>>;

int main() {
  Net net(1);
  std::vector<float> x(2 * 64, 0.25f);
  const float* y = net.forward(x.data(), 2);
  std::printf("consumer ok: %zu parameters, simd %s, y0 %.4f\n", Net::parameter_count,
              fernet::simd_arch().c_str(), y[0]);
  return Net::parameter_count == 4 * 9 + 4 + 36 * 3 + 3 ? 0 : 1;
}
