#pragma once
// Reading a whole file that came from a user or a file (a run.json, an ONNX model, a history):
// only a regular file, and only up to a size cap checked before anything is allocated, so that
// a device (/dev/zero), a directory or a huge file is refused with a message instead of being
// read into memory. Checkpoints have their own reader (checkpoint.hpp: header first).
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <memory>
#include <stdexcept>
#include <string>

namespace fernet {

struct FileReadError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// The bytes of `path`; `what` names the kind of file in the size message ("a run file").
inline std::string read_regular_file(const std::string& path, std::uint64_t max_bytes, const std::string& what) {
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw FileReadError("cannot open " + path + ": " + std::strerror(errno));
  struct stat st {};
  if (::fstat(::fileno(f.get()), &st) != 0 || !S_ISREG(st.st_mode))
    throw FileReadError(path + " is not a regular file");
  if (static_cast<std::uint64_t>(st.st_size) > max_bytes)
    throw FileReadError(path + " is " + std::to_string(st.st_size) + " bytes, more than " + what + " ever is (" +
                        std::to_string(max_bytes) + ")");
  std::string bytes(static_cast<std::size_t>(st.st_size), '\0');
  if (std::fread(bytes.data(), 1, bytes.size(), f.get()) != bytes.size()) throw FileReadError("cannot read " + path);
  return bytes;
}

}  // namespace fernet
