#include "cli_common.hpp"

#include <csignal>
#include <cstdio>
#include <cstring>
#include <ctime>
#include <filesystem>

#include <fernet/data/fer2013_source.hpp>
#include <fernet/device/select.hpp>
#include <fernet/dist/launch.hpp>
#include <fernet/hash.hpp>

namespace fs = std::filesystem;

namespace fernet::app {

namespace {
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}
}  // namespace

const std::atomic<bool>& stop_requested() { return g_stop; }
int stop_signal() { return g_signal.load(); }

struct StopSignals::Saved {
  struct sigaction old_int {
  }, old_term{};
};

StopSignals::StopSignals() : saved_(std::make_unique<Saved>()) {
  struct sigaction sa {};
  sa.sa_handler = on_stop_signal;
  sigemptyset(&sa.sa_mask);
  sa.sa_flags = SA_RESETHAND;  // the second signal gets the default action
  sigaction(SIGINT, &sa, &saved_->old_int);
  sigaction(SIGTERM, &sa, &saved_->old_term);
}

StopSignals::~StopSignals() {
  sigaction(SIGINT, &saved_->old_int, nullptr);
  sigaction(SIGTERM, &saved_->old_term, nullptr);
}

std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + shell_quote(argv[i]);
  return s;
}

std::string iso_time_now() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&t));
  return buf;
}

std::string printable(std::string_view text) {
  std::string out;
  out.reserve(text.size());
  for (const char ch : text) {
    const auto c = static_cast<unsigned char>(ch);
    if ((c < 0x20 && c != '\n' && c != '\t') || c == 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += ch;
    }
  }
  return out;
}

void require_input_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(what + " '" + path + "' does not exist");
  if (fs::is_directory(path, ec)) throw std::runtime_error(what + " '" + path + "' is a directory, not a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  std::fclose(f);
}

data::Fer2013 load_data(const std::string& path, std::string& description) {
  if (!path.empty()) require_input_file(path, "data file");
  return data::load_fer2013_or_synthetic(path, description);
}

data::Split parse_split_or_throw(const std::string& name) {
  const auto s = data::parse_split(name);
  if (!s) throw UsageError("unknown split '" + name + "'; choose Training, PublicTest or PrivateTest");
  return *s;
}

Checkpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw std::runtime_error("'" + path + "' is a directory; pass a checkpoint file, e.g. " +
                             (fs::path(path) / "model.fernet").string());
  return Checkpoint::load(path);
}

std::string weights_checksum(const Checkpoint& c) {
  std::uint64_t h = fnv1a_basis;
  for (const char* name : {"parameters", "buffers"}) {
    auto it = c.sections.find(name);
    if (it != c.sections.end()) h = fnv1a(it->second.data(), it->second.size() * sizeof(float), h);
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

std::unique_ptr<device::Backend> open_backend(const std::string& name) {
  try {
    return device::make_backend(name, dist::launched_local_rank());
  } catch (const std::invalid_argument& e) { throw UsageError(e.what()); }
}

}  // namespace fernet::app
