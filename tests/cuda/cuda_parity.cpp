// CPU-versus-CUDA parity: every layer's forward and backward, the losses and optimisers, and
// full training steps of NetAdam and ResNet-18, on the CUDA backend (relative error <= 1e-4).
// Without a usable GPU the program prints why and exits 77, which CTest reports as skipped.
#define DOCTEST_CONFIG_IMPLEMENT
#include "../device_parity.hpp"

#include <cstdio>
#include <memory>

#include <fernet/device/cuda_backend.hpp>
#include <fernet/networks.hpp>

using namespace fernet;

namespace {
device::Backend& gpu() {
  static std::unique_ptr<device::Backend> be = cuda::make_backend(0);
  return *be;
}
}  // namespace

TEST_CASE("cuda: every layer's forward and backward match the CPU layers") { parity::check_every_layer(gpu()); }

TEST_CASE("cuda: losses and optimisers match the CPU over several steps") {
  parity::check_losses_and_optimizers(gpu());
}

TEST_CASE("cuda: NetAdam forward/backward and training steps match the CPU") {
  parity::check_forward_backward<networks::NetAdam>(gpu(), "NetAdam", 16);
  parity::check_training_steps<networks::NetAdam, NLLLoss, Adam>(gpu(), "NetAdam + Adam", 100, 3, Adam::Options{1e-3f});
}

TEST_CASE("cuda: ResNet-18 forward/backward and training steps match the CPU") {
  parity::check_forward_backward<networks::ResNet18>(gpu(), "ResNet-18", 8);
  parity::check_training_steps_over_seeds<networks::ResNet18, CrossEntropyLoss, SGD>(
      gpu(), "ResNet-18 + SGD", 16, 2, SGD::Options{0.1f}, {11, 12, 13});
}

int main(int argc, char** argv) {
  std::string why;
  if (cuda::device_count(&why) == 0) {
    std::printf("SKIPPED: no usable CUDA device, so the CPU-versus-CUDA parity tests did not run (%s)\n", why.c_str());
    return 77;
  }
  std::printf("CUDA devices:\n%s\n", cuda::devices_report().c_str());
  doctest::Context ctx(argc, argv);
  return ctx.run();
}
