#pragma once
// Where augmentation randomness comes from: one generator per sample, seeded from (run seed,
// epoch, the sample's index in the DATA SET). No state is carried between samples, so the result
// does not depend on the thread count, the batch size, the order samples are visited in, or on
// how samples are spread over processes, and a resumed run draws exactly what it would have.
#include <cstdint>

#include "../../random.hpp"

namespace fernet::data::augment {

namespace detail {
// Separates augmentation streams from the loader's shuffle and dropout, which hash the same seed.
inline constexpr std::uint64_t sample_stream = 0x6175676D656E74ull;  // "augment"
inline constexpr std::uint64_t batch_stream = 0x6D69787570ull;       // "mixup"
}  // namespace detail

inline std::uint64_t sample_seed(std::uint64_t seed, int epoch, std::uint64_t sample_index) {
  return hash64(hash64(seed ^ detail::sample_stream, static_cast<std::uint64_t>(epoch)), sample_index);
}
inline Rng sample_rng(std::uint64_t seed, int epoch, std::uint64_t sample_index) {
  return Rng(sample_seed(seed, epoch, sample_index));
}

// For batch-level transforms (mixup): one generator per (seed, epoch, batch index).
inline Rng batch_rng(std::uint64_t seed, int epoch, std::uint64_t batch_index) {
  return Rng(hash64(hash64(seed ^ detail::batch_stream, static_cast<std::uint64_t>(epoch)), batch_index));
}

}  // namespace fernet::data::augment
