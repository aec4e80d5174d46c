// libFuzzer harness: the run.json reader of `fernet train --resume` (parse_run_file: JSON, the
// settings' types and ranges) and the settings checks every run passes (validate). Every
// rejection must be a std::runtime_error with a message; UBSan reports (a float read as int) and
// crashes are findings. The model name is left to validate's registry lookup, a plain string
// comparison that would drag every network into the harness.
#include <cstdint>
#include <cstdlib>
#include <stdexcept>
#include <string_view>

#include "../../apps/fernet/run_settings.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fernet::app;
  try {
    const RunFile r = parse_run_file({reinterpret_cast<const char*>(data), size}, "run.json");
    validate_values(r.settings);  // validate (models.hpp) adds the model name, from the registry
  } catch (const std::runtime_error& e) {
    if (std::string_view(e.what()).empty()) std::abort();
  }
  return 0;
}
