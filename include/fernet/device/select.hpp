#pragma once
// Choosing where a network trains, by name: the one point where examples and the fernet
// program turn `--device` into a backend.
//   "cpu"       no backend: the ordinary CPU network (xsimd kernels, OpenMP)
//   "cuda"      the CUDA backend on device 0 ("cuda:1" for device 1); needs a build with
//               FERNET_CUDA (FERNET_WITH_CUDA is then defined) and a GPU. The processes of a
//               data-parallel job share a machine's GPUs: process k of the machine takes
//               device k mod (device count)
//   "emulated"  the device code path run on the CPU (device/host_backend.hpp): for testing
#include <memory>
#include <string>

#include "host_backend.hpp"
#if defined(FERNET_WITH_CUDA)
#include "cuda_backend.hpp"
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

// The CUDA device index a name asks for ("cuda" -> 0, "cuda:N" -> N), -1 for "cpu" and
// "emulated"; throws std::invalid_argument naming the choices for anything else.
inline int parse_device_name(const std::string& name) {
  if (name == "cpu" || name == "emulated") return -1;
  if (name == "cuda") return 0;
  if (name.rfind("cuda:", 0) == 0) {
    const std::string digits = name.substr(5);
    if (!digits.empty() && digits.size() <= 4 && digits.find_first_not_of("0123456789") == std::string::npos)
      return std::stoi(digits);
  }
  throw std::invalid_argument("unknown device '" + name + "'; choose one of: " + device_names);
}

// nullptr for "cpu". Throws std::invalid_argument for an unknown name and DeviceError when
// the device cannot be used (no CUDA in this build, no GPU, bad index), saying which.
// `process_on_machine`: this process's place among a job's processes on its machine (plain
// "cuda" then picks device process_on_machine mod count; "cuda:N" is N for every process).
inline std::unique_ptr<Backend> make_backend(const std::string& name, int process_on_machine = 0) {
  int index = parse_device_name(name);
  if (name == "cpu") return nullptr;
  if (name == "emulated") return std::make_unique<HostBackend>();
#if defined(FERNET_WITH_CUDA)
  if (name == "cuda" && process_on_machine > 0) {
    const int count = fernet::cuda::device_count();
    if (count > 0) index = process_on_machine % count;
  }
  return fernet::cuda::make_backend(index);
#else
  (void)index;
  (void)process_on_machine;
  throw DeviceError("device '" + name +
                    "': this fernet build has no CUDA backend (configure with "
                    "-DFERNET_CUDA=ON on a machine with the CUDA toolkit)");
#endif
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
