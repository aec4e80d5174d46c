// Runs a libFuzzer harness (its LLVMFuzzerTestOneInput) over files and directories of inputs,
// without libFuzzer, so that g++ builds with AddressSanitizer + UBSan replay the seeds and every
// kept finding in CTest (tests/fuzz/CMakeLists.txt); fuzzing itself is scripts/fuzz.sh.
//   fuzz_replay_NAME PATH...   (a directory: every regular file in it, in name order)
// Exit 0 when every input ran (a sanitiser report or a harness's abort ends the process first),
// 1 when a path cannot be read or no input was found: a replay of nothing proves nothing.
#include <algorithm>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size);

namespace {
bool replay(const std::filesystem::path& file) {
  std::ifstream in(file, std::ios::binary);
  if (!in) {
    std::fprintf(stderr, "fuzz replay: cannot read %s\n", file.c_str());
    return false;
  }
  const std::vector<std::uint8_t> bytes((std::istreambuf_iterator<char>(in)), std::istreambuf_iterator<char>());
  LLVMFuzzerTestOneInput(bytes.data(), bytes.size());
  return true;
}
}  // namespace

int main(int argc, char** argv) {
  namespace fs = std::filesystem;
  long inputs = 0;
  for (int a = 1; a < argc; ++a) {
    std::error_code ec;
    std::vector<fs::path> files;
    if (fs::is_directory(argv[a], ec)) {
      for (const auto& e : fs::directory_iterator(argv[a], ec))
        if (e.is_regular_file()) files.push_back(e.path());
      std::sort(files.begin(), files.end());
    } else if (fs::is_regular_file(argv[a], ec)) {
      files.push_back(argv[a]);
    } else {
      std::fprintf(stderr, "fuzz replay: %s is neither a file nor a directory\n", argv[a]);
      return 1;
    }
    for (const auto& f : files) {
      if (!replay(f)) return 1;
      ++inputs;
    }
  }
  std::printf("fuzz replay: %ld inputs ran without a report\n", inputs);
  return inputs > 0 ? 0 : 1;
}
