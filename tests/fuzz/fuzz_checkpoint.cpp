// libFuzzer harness: the checkpoint reader (Checkpoint::load, header and size checks, then
// parse). Half the inputs get a valid FNV-1a checksum appended (first byte odd), so the fuzzer
// reaches the metadata and section parsing behind the checksum. A parsed checkpoint is saved and
// read back, and must come back equal. Every rejection must be a CheckpointError.
#include <unistd.h>

#include <cstdint>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <string>
#include <vector>

#include <fernet/checkpoint.hpp>

namespace {
const std::string& scratch_path() {
  static const std::string path = [] {
    const char* dir = std::getenv("TMPDIR");
    std::string p = std::string(dir && *dir ? dir : "/tmp") + "/fernet_fuzz_ckpt." + std::to_string(::getpid());
    std::atexit([] { std::remove(scratch_path().c_str()); });
    return p;
  }();
  return path;
}
}  // namespace

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using fernet::Checkpoint;
  std::vector<unsigned char> bytes(data, data + size);
  if (size > 0 && (data[0] & 1)) {
    bytes.erase(bytes.begin());
    const std::uint64_t sum = fernet::fnv1a(bytes.data(), bytes.size());
    const auto* s = reinterpret_cast<const unsigned char*>(&sum);
    bytes.insert(bytes.end(), s, s + 8);
  }
  {
    std::FILE* f = std::fopen(scratch_path().c_str(), "wb");
    if (!f || std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size() || std::fclose(f) != 0) std::abort();
  }
  Checkpoint c;
  try {
    c = Checkpoint::load(scratch_path());
  } catch (const fernet::CheckpointError&) { return 0; }
  c.save(scratch_path());
  const Checkpoint again = Checkpoint::load(scratch_path());
  if (again.meta != c.meta || again.sections.size() != c.sections.size()) std::abort();
  for (const auto& [name, values] : c.sections) {
    const auto& other = again.sections.at(name);
    if (other.size() != values.size() ||
        (!values.empty() && std::memcmp(other.data(), values.data(), values.size() * sizeof(float)) != 0))
      std::abort();
  }
  return 0;
}
