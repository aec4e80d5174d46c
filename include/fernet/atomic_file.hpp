#pragma once
// Files are written atomically: into a temporary file next to the target, flushed to disk,
// then renamed over it. A crash or Ctrl-C leaves either the old file or the new one, never a
// partial one.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include <sys/stat.h>
#include <unistd.h>

namespace fernet {

struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Calls write(FILE*) on a temporary file and renames it to path when write returns normally.
inline void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  std::string tmpl = (dir / ("." + target.filename().string() + ".tmp.XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  ::fchmod(fd, 0644);  // mkstemp creates 0600; a model or report is meant to be shared
  std::FILE* f = ::fdopen(fd, "wb");
  if (!f) {
    ::close(fd);
    ::unlink(tmpl.c_str());
    throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  }
  try {
    write(f);
  } catch (...) {
    std::fclose(f);
    ::unlink(tmpl.c_str());
    throw;
  }
  const bool ok = std::fflush(f) == 0 && ::fsync(::fileno(f)) == 0 && !std::ferror(f);
  const int saved_errno = errno;
  if (std::fclose(f) != 0 || !ok) {
    ::unlink(tmpl.c_str());
    throw IoError("cannot write '" + path + "': " + std::strerror(ok ? errno : saved_errno));
  }
  if (std::rename(tmpl.c_str(), path.c_str()) != 0) {
    const int e = errno;
    ::unlink(tmpl.c_str());
    throw IoError("cannot write '" + path + "': " + std::strerror(e));
  }
}

inline void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size())
      throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  });
}

}  // namespace fernet
