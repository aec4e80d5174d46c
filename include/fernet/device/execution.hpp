#pragma once
// DeviceExec: the execution policy (execution.hpp) that runs the ordinary layer code on a
// device Backend: its operations are the Backend's, its arrays live in the Backend's memory.
// A network's device form is its layers bound to DeviceExec (Sequential::body_on<DeviceExec>).
#include "backend.hpp"

namespace fernet::device {

struct DeviceExec {
  static constexpr bool host = false;
  template <class T>
  using array = DeviceArray<T>;
  template <class T>
  array<T> make_array() const {
    return DeviceArray<T>(*backend);
  }
  Backend& ops() const { return *backend; }
  Backend* backend = nullptr;
};

}  // namespace fernet::device
