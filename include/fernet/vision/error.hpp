#pragma once
// The error fernet::vision throws: a cascade file that cannot be loaded, an image it cannot
// work on. Its message names the file and the problem.
#include <stdexcept>

namespace fernet::vision {

struct VisionError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

}  // namespace fernet::vision
