// libFuzzer harness: FER2013 CSV files, plain or gzip, through the same reader `fernet` uses
// (FileReader + parse_stream: gzip detection, inflate, line splitting, field checks), and the
// in-memory parser. Every rejection must be a DataError; anything else (a crash, a sanitizer
// report, an allocation past libFuzzer's -malloc_limit_mb) is a finding.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <string>
#include <string_view>

#include <fernet/data/fer2013_file.hpp>

namespace {
// One scratch file per process, under $TMPDIR, removed at exit.
const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/fernet_fuzz_csv." + std::to_string(::getpid());
    std::atexit([] { std::remove(scratch_path().c_str()); });
    return p;
  }();
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fernet::data;
  try {
    const Fer2013 parsed = parse_fer2013({reinterpret_cast<const char*>(data), size}, "fuzz");
    if (parsed.pixels.size() != parsed.size() * image_pixels) std::abort();
  } catch (const DataError&) {}
  {
    std::FILE* f = std::fopen(scratch_path().c_str(), "wb");
    if (!f || std::fwrite(data, 1, size, f) != size || std::fclose(f) != 0) std::abort();
  }
  try {
    const Fer2013 loaded = load_fer2013(scratch_path());
    if (loaded.pixels.size() != loaded.size() * image_pixels || loaded.usage.size() != loaded.size()) std::abort();
    for (const int label : loaded.labels)
      if (label < 0 || label >= num_classes) std::abort();
  } catch (const DataError&) {}
  return 0;
}
