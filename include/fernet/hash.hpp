#pragma once
// FNV-1a (64-bit): the checksum of checkpoint files and of the weights `fernet info` and
// `fernet eval --json` report. Not cryptographic; it detects truncated or corrupt bytes.
#include <cstddef>
#include <cstdint>

namespace fernet {

inline constexpr std::uint64_t fnv1a_basis = 0xcbf29ce484222325ull;

// Continues the hash `h` over n bytes, so that several blocks hash as one stream.
inline std::uint64_t fnv1a(const void* bytes, std::size_t n, std::uint64_t h = fnv1a_basis) {
  const auto* b = static_cast<const unsigned char*>(bytes);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

}  // namespace fernet
