#pragma once
// Choosing where a network trains, by name: the one point where examples and the fernet
// program turn `--device` into a backend.
//   "cpu"       no backend: the ordinary CPU network (xsimd kernels, OpenMP)
//   "cuda"      the CUDA backend on device 0 ("cuda:1" for device 1); needs a build with
//               FERNET_CUDA (FERNET_WITH_CUDA is then defined) and a GPU
//   "emulated"  the device code path run on the CPU (device/host_backend.hpp): for testing
#include <memory>
#include <string>

#include "host_backend.hpp"
#if defined(FERNET_WITH_CUDA)
#include "../cuda/cuda_backend.hpp"
#endif

namespace fernet::device {

inline constexpr const char* device_names = "cpu, cuda, cuda:N, emulated";

inline bool cuda_compiled_in() {
#if defined(FERNET_WITH_CUDA)
  return true;
#else
  return false;
#endif
}

// nullptr for "cpu". Throws std::invalid_argument for an unknown name and DeviceError when
// the device cannot be used (no CUDA in this build, no GPU, bad index), saying which.
inline std::unique_ptr<Backend> make_backend(const std::string& name) {
  if (name == "cpu") return nullptr;
  if (name == "emulated") return std::make_unique<HostBackend>();
  if (name == "cuda" || name.rfind("cuda:", 0) == 0) {
    int index = 0;
    if (name.size() > 5) {
      const std::string digits = name.substr(5);
      if (digits.empty() || digits.find_first_not_of("0123456789") != std::string::npos || digits.size() > 4)
        throw std::invalid_argument("unknown device '" + name + "' (expected " + device_names + ")");
      index = std::stoi(digits);
    }
#if defined(FERNET_WITH_CUDA)
    return fernet::cuda::make_backend(index);
#else
    (void)index;
    throw DeviceError("device '" + name + "': this fernet build has no CUDA backend (configure with "
                      "-DFERNET_CUDA=ON on a machine with the CUDA toolkit)");
#endif
  }
  throw std::invalid_argument("unknown device '" + name + "' (expected " + device_names + ")");
}

// For `fernet info`: what the CUDA side of this build can do.
inline std::string cuda_report() {
#if defined(FERNET_WITH_CUDA)
  std::string r = "compiled in; " + fernet::cuda::devices_report();
  while (!r.empty() && r.back() == '\n') r.pop_back();
  return r;
#else
  return "not compiled in (configure with -DFERNET_CUDA=ON)";
#endif
}

}  // namespace fernet::device
