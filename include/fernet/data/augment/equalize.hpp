#pragma once
// Histogram equalisation of 8-bit grey images, a preprocessing option (applied once to the
// stored pixels, before scaling to floats). OpenCV's equalizeHist definition, value for value:
// the lowest occupied level maps to 0, level j to round(255 * (cdf(j) - hist(lowest)) /
// (pixels - hist(lowest))) (rounding half to even, as cvRound), and an image of one level stays
// at that level.
#include <array>
#include <cmath>
#include <cstddef>
#include <cstdint>

namespace fernet::data::augment {

// dst may equal src.
inline void equalize_histogram(const std::uint8_t* src, std::uint8_t* dst, std::size_t pixels) {
  if (pixels == 0) return;
  std::array<std::size_t, 256> hist{};
  for (std::size_t i = 0; i < pixels; ++i) ++hist[src[i]];
  int lowest = 0;
  while (hist[lowest] == 0) ++lowest;
  std::array<std::uint8_t, 256> lut{};
  if (hist[lowest] == pixels) {
    lut.fill(static_cast<std::uint8_t>(lowest));
  } else {
    // OpenCV computes the scale and each product in float; so do we, for equal results.
    const float scale = 255.f / static_cast<float>(pixels - hist[lowest]);
    std::size_t sum = 0;
    for (int j = lowest + 1; j < 256; ++j) {
      sum += hist[j];
      const long v = std::lrint(static_cast<float>(sum) * scale);
      lut[j] = static_cast<std::uint8_t>(v < 0 ? 0 : v > 255 ? 255 : v);
    }
  }
  for (std::size_t i = 0; i < pixels; ++i) dst[i] = lut[src[i]];
}

// Every image of a contiguous block (count images of `pixels` bytes each), in place.
inline void equalize_histograms(std::uint8_t* images, std::size_t count, std::size_t pixels) {
#pragma omp parallel for schedule(static) if (count >= 64)
  for (std::ptrdiff_t i = 0; i < static_cast<std::ptrdiff_t>(count); ++i)
    equalize_histogram(images + i * pixels, images + i * pixels, pixels);
}

}  // namespace fernet::data::augment
