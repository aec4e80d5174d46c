// Compile-time probe: one translation unit that instantiates NetAdam and a full training step.
#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>

int main() {
  using Net = fernet::networks::NetAdam;
  auto net = std::make_unique<Net>(30);
  fernet::Adam opt(*net, {});
  std::vector<float> x(4 * Net::input_shape::size, 1.f), dy(4 * 7);
  const int labels[4] = {0, 1, 2, 3};
  const float* y = net->forward(x.data(), 4);
  const float loss = fernet::NLLLoss::compute(y, labels, 4, 7, dy.data());
  net->zero_grad();
  net->backward(dy.data());
  opt.step();
  return loss > 0 ? 0 : 1;
}
