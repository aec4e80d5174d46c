#pragma once
// Files are written atomically: into a temporary file next to the target, flushed to disk,
// then renamed over it, and the directory synced. A crash or Ctrl-C leaves either the old file or
// the new one, never a partial one; the next write into that directory removes the killed temporary.
// New files get 0666 less the umask; a replaced file keeps its permissions.
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <functional>
#include <stdexcept>
#include <string>

#include <fcntl.h>
#include <signal.h>
#include <sys/stat.h>
#include <unistd.h>

namespace fernet {

struct IoError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

// Temporary files are named .<name>.tmp.<pid>.XXXXXX, so that one left by a killed process can
// be told from one another live process is writing: any such file in the directory whose
// process no longer exists is removed.
inline std::string temporary_prefix(const std::filesystem::path& target) {
  return "." + target.filename().string() + ".tmp.";
}

inline void remove_stale_temporaries(const std::filesystem::path& dir) {
  namespace fs = std::filesystem;
  std::error_code ec;
  for (fs::directory_iterator it(dir, ec), end; !ec && it != end; it.increment(ec)) {
    const std::string name = it->path().filename().string();
    const auto tmp = name.rfind(".tmp.");
    // .<name>.tmp.<pid>.XXXXXX: mkstemp's six characters after the pid.
    if (name.empty() || name[0] != '.' || tmp == std::string::npos || tmp == 0) continue;
    const std::string rest = name.substr(tmp + 5);
    const auto dot = rest.find('.');
    if (dot == std::string::npos || dot == 0 || dot > 9 || rest.size() != dot + 7 ||
        rest.find_first_not_of("0123456789") != dot)
      continue;
    const long pid = std::stol(rest.substr(0, dot));
    if (pid > 0 && pid != ::getpid() && ::kill(static_cast<pid_t>(pid), 0) != 0 && errno == ESRCH)
      fs::remove(it->path(), ec);
  }
}

// The mode a new file gets: 0666 less the umask, as open(2) gives; a file being replaced keeps
// its own permission bits (a 0600 checkpoint stays 0600).
inline mode_t new_file_mode(const std::string& path) {
  struct stat st {};
  if (::stat(path.c_str(), &st) == 0 && S_ISREG(st.st_mode)) return st.st_mode & 07777;
  // The umask read without changing it (umask(2) sets it, which would race with other threads).
  mode_t mask = 022;
  if (std::FILE* status = std::fopen("/proc/self/status", "r")) {
    char line[256];
    unsigned value = 0;
    while (std::fgets(line, sizeof line, status))
      if (std::sscanf(line, "Umask: %o", &value) == 1) mask = static_cast<mode_t>(value);
    std::fclose(status);
  }
  return 0666 & ~mask;
}

// The rename itself is only durable once the directory entry is on disk.
inline void sync_directory(const std::filesystem::path& dir) {
  const int fd = ::open(dir.c_str(), O_RDONLY | O_DIRECTORY);
  if (fd < 0) return;  // e.g. no read permission on the directory: the data is synced already
  ::fsync(fd);
  ::close(fd);
}

}  // namespace detail

// Calls write(FILE*) on a temporary file and renames it to path when write returns normally;
// then syncs the directory. Temporary files that killed processes left in the directory are removed.
inline void write_file_atomically(const std::string& path, const std::function<void(std::FILE*)>& write) {
  namespace fs = std::filesystem;
  const fs::path target(path);
  const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
  detail::remove_stale_temporaries(dir);
  std::string tmpl =
      (dir / (detail::temporary_prefix(target) + std::to_string(::getpid()) + ".XXXXXX")).string();
  const int fd = ::mkstemp(tmpl.data());
  if (fd < 0) throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  ::fchmod(fd, detail::new_file_mode(path));  // mkstemp creates 0600 whatever the umask
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
  detail::sync_directory(dir);
}

inline void write_text_atomically(const std::string& path, const std::string& text) {
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(text.data(), 1, text.size(), f) != text.size())
      throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  });
}

}  // namespace fernet
