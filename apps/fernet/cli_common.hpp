#pragma once
// What the fernet program's commands share: the usage-error type (exit code 2), the stop flag
// that SIGINT/SIGTERM set, the command line as text, input files and data loading, and
// checkpoints and devices by name.
#include <atomic>
#include <memory>
#include <stdexcept>
#include <string>
#include <string_view>

#include <fernet/checkpoint.hpp>
#include <fernet/data/fer2013_dataset.hpp>
#include <fernet/device/backend.hpp>

namespace fernet::app {

struct UsageError : std::runtime_error {  // exit code 2
  using std::runtime_error::runtime_error;
};

// ---- signals: the handler only stores ----
// Set by SIGINT / SIGTERM while a StopSignals is alive; a second Ctrl-C kills the program.
const std::atomic<bool>& stop_requested();
int stop_signal();  // the signal that set the flag, 0 when none
class StopSignals {
 public:
  StopSignals();
  ~StopSignals();
  StopSignals(const StopSignals&) = delete;
  StopSignals& operator=(const StopSignals&) = delete;

 private:
  struct Saved;
  std::unique_ptr<Saved> saved_;
};

// ---- text ----
std::string shell_quote(const std::string& s);
std::string command_line(int argc, char** argv);
std::string iso_time_now();
// Text that came from a file (checkpoint metadata, paths) made safe to print: control bytes other
// than newline and tab become \xNN, so escape sequences never reach the terminal.
std::string printable(std::string_view text);

// ---- inputs ----
// A file the user named as input: a clear message when it is missing or not a file.
void require_input_file(const std::string& path, const std::string& what);
// The FER2013 file at `path` (checked first: a clear message when it is missing or a directory),
// or the built-in synthetic faces when it is empty.
data::Fer2013 load_data(const std::string& path, std::string& description);
data::Split parse_split_or_throw(const std::string& name);  // UsageError for an unknown name
Checkpoint load_checkpoint(const std::string& path);        // a directory gets a hint
std::string weights_checksum(const Checkpoint& c);          // FNV-1a of parameters and buffers, hex
// A backend by name (null for "cpu"); an unknown name is a usage error.
std::unique_ptr<device::Backend> open_backend(const std::string& name);

// The help of eval's and predict's --half-weights (Sequential::use_half_linear_weights).
inline constexpr const char* half_weights_help =
    "inference reads the linear layers' weights as IEEE half floats: half the memory traffic (single-image "
    "latency), outputs within the README's stated tolerance of float32";

}  // namespace fernet::app
