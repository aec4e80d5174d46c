#pragma once
// ExecBackend<Exec>: the Backend operations implemented once, by ops.hpp over an executor.
// The host backend and the CUDA backend derive from it with their own executor, memory
// functions and matrix product.
#include "backend.hpp"
#include "ops.hpp"

namespace fernet::device {

template <class Exec>
class ExecBackend : public Backend {
 public:
#define FERNET_DEFINE_OPERATION(name, params, ...) \
  void name params override { ops::name(exec_, __VA_ARGS__); }
  FERNET_DEVICE_OPERATIONS(FERNET_DEFINE_OPERATION)
#undef FERNET_DEFINE_OPERATION

 protected:
  Exec exec_;
};

}  // namespace fernet::device
