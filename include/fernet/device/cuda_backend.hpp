#pragma once
// The CUDA backend (compiled from cuda/ into the fernet::cuda library; FERNET_WITH_CUDA is
// defined for everything that links it). This header needs no CUDA headers.
#include <memory>
#include <string>

#include "backend.hpp"

namespace fernet::cuda {

// Number of usable CUDA devices; 0 when there is none or the driver is missing, in which case
// *why (when given) says what the runtime reported.
int device_count(std::string* why = nullptr);

// One line per device ("cuda:0 NVIDIA H200, sm_90, 139 GiB"), or why there is none.
std::string devices_report();

// A backend on device `index` (its own stream and cuBLAS handle). Throws device::DeviceError
// naming the device and the runtime's reason when it cannot be used.
std::unique_ptr<device::Backend> make_backend(int index = 0);

}  // namespace fernet::cuda
