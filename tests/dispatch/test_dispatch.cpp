// The run-time choice of kernels (include/fernet/kernels/kernel_set.hpp) in a FERNET_DISPATCH
// build: the set chosen is the best this processor has, as /proc/cpuinfo tells it (a source
// independent of the compiler's __builtin_cpu_supports), or the one FERNET_KERNELS names.
#include <doctest/doctest.h>

#include <cstdlib>

#include <fernet/kernels/gemm.hpp>
#include <fstream>
#include <iterator>
#include <set>
#include <sstream>
#include <string>

namespace {

std::set<std::string> cpu_flags() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("flags", 0) == 0) {
      std::istringstream words(line.substr(line.find(':') + 1));
      return {std::istream_iterator<std::string>(words), std::istream_iterator<std::string>()};
    }
  return {};
}

bool has_all(const std::set<std::string>& flags, std::initializer_list<const char*> wanted) {
  for (const char* w : wanted)
    if (!flags.count(w)) return false;
  return true;
}

// The levels of x86-64-v4 and v3 as far as fernet's kernels use them.
std::string best_level() {
  const auto f = cpu_flags();
  if (has_all(f, {"avx512f", "avx512bw", "avx512dq", "avx512vl", "avx512cd", "avx2", "fma"})) return "avx512";
  if (has_all(f, {"avx2", "fma", "bmi2"})) return "avx2+fma";
  return "baseline";
}

}  // namespace

TEST_CASE("dispatch: the best kernel set of this processor is chosen, or the one FERNET_KERNELS names") {
  const char* wanted = std::getenv("FERNET_KERNELS");
  const std::string expected = wanted && *wanted ? wanted : best_level();
  MESSAGE("processor's best: " << best_level() << "; running: " << fernet::kernels::kernel_set_description());
  CHECK(std::string(fernet::kernels::active_kernel_set().name) == expected);
  CHECK(fernet::kernels::kernel_set_description().find("chosen at run time") != std::string::npos);
}

TEST_CASE("dispatch: the program outside the kernels is built for the x86-64 baseline") {
  CHECK(std::string(fernet::kernels::compiled_isa_name()) == "baseline");
  CHECK(fernet::simd_width == 4);  // SSE2
}
