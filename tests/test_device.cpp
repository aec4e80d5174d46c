// The device code path (device twins of every layer, DeviceModel, device optimisers, and the
// element kernels the CUDA backend launches) run on the host backend and compared with the
// CPU networks. The same checks run on a GPU in cuda/parity.cpp.
#include "device_parity.hpp"

#include <fernet/device/select.hpp>

using namespace fernet;

namespace {
device::HostBackend& host_backend() {
  static device::HostBackend be;
  return be;
}
}  // namespace

TEST_CASE("device (emulated): every layer's forward and backward match the CPU layers") {
  parity::check_every_layer(host_backend());
}

TEST_CASE("device (emulated): losses and optimisers match the CPU over several steps") {
  parity::check_losses_and_optimizers(host_backend());
}

TEST_CASE("device (emulated): NetAdam training steps match the CPU") {
  parity::check_forward_backward<networks::NetAdam>(host_backend(), "NetAdam", 4);
  parity::check_training_steps<networks::NetAdam, NLLLoss, Adam>(host_backend(), "NetAdam + Adam", 8, 2,
                                                                  Adam::Options{1e-3f});
}

TEST_CASE("device (emulated): ResNet-18 training steps match the CPU") {
  parity::check_forward_backward<networks::ResNet18>(host_backend(), "ResNet-18", 2);
  parity::check_training_steps<networks::ResNet18, CrossEntropyLoss, SGD>(host_backend(), "ResNet-18 + SGD", 4, 2,
                                                                          SGD::Options{0.1f});
}

TEST_CASE("device selection: names, errors and the CUDA report") {
  CHECK(device::make_backend("cpu") == nullptr);
  CHECK(device::make_backend("emulated") != nullptr);
  CHECK_THROWS_WITH_AS(device::make_backend("gpu"), doctest::Contains("unknown device 'gpu'"), std::invalid_argument);
  CHECK_THROWS_AS(device::make_backend("cuda:x"), std::invalid_argument);
#if !defined(FERNET_WITH_CUDA)
  CHECK_THROWS_WITH_AS(device::make_backend("cuda"), doctest::Contains("no CUDA backend"), device::DeviceError);
  CHECK(device::cuda_report().find("not compiled in") != std::string::npos);
#endif
}
