#pragma once
// 48 x 48 grey faces as a network's input: the model's own preprocessing (data::Preprocess:
// value = pixel * scale + offset, the grey plane replicated to `channels` planes), the same
// transform its training images went through.
#include <array>
#include <cstddef>
#include <cstdint>
#include <vector>

#include "../data/batches.hpp"
#include "face_crop.hpp"

namespace fernet::vision {

using Face48 = std::array<std::uint8_t, face_side * face_side>;

// n faces as n x channels x 48 x 48 floats.
inline std::vector<float> face_input(const std::vector<Face48>& faces, const data::Preprocess& p) {
  constexpr std::size_t pixels = face_side * face_side;
  const std::size_t per = static_cast<std::size_t>(p.channels) * pixels;
  std::vector<float> x(faces.size() * per);
  for (std::size_t i = 0; i < faces.size(); ++i)
    for (int c = 0; c < p.channels; ++c)
      for (std::size_t k = 0; k < pixels; ++k)
        x[i * per + static_cast<std::size_t>(c) * pixels + k] = faces[i][k] * p.scale + p.offset;
  return x;
}

}  // namespace fernet::vision
