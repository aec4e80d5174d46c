#pragma once
// FER2013, the Kaggle facial-expression data set ("Challenges in Representation Learning"), as
// data: 48x48 grey images, one of seven emotions each, in three splits (Training, PublicTest,
// PrivateTest). Reading and writing its CSV file: fer2013_csv.hpp (the text format) and
// fer2013_file.hpp (files, plain or gzip); fer2013.hpp includes all three.
#include <algorithm>
#include <array>
#include <cstdint>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

#include "labelled_images.hpp"

namespace fernet::data {

enum class Split : std::uint8_t { Training = 0, PublicTest = 1, PrivateTest = 2 };

inline std::string_view split_name(Split s) {
  switch (s) {
    case Split::Training:
      return "Training";
    case Split::PublicTest:
      return "PublicTest";
    case Split::PrivateTest:
      return "PrivateTest";
  }
  return "?";
}

// Exact, case-sensitive names as they appear in the Usage column.
inline std::optional<Split> parse_split(std::string_view name) {
  if (name == "Training") return Split::Training;
  if (name == "PublicTest") return Split::PublicTest;
  if (name == "PrivateTest") return Split::PrivateTest;
  return std::nullopt;
}

inline constexpr int image_side = 48, image_pixels = image_side * image_side, num_classes = 7;

inline std::string_view emotion_name(int label) {
  static constexpr std::array<std::string_view, num_classes> names = {"Angry", "Disgust",  "Fear",   "Happy",
                                                                      "Sad",   "Surprise", "Neutral"};
  if (label < 0 || label >= num_classes)
    throw std::out_of_range("emotion_name: label " + std::to_string(label) + " is outside 0..6");
  return names[static_cast<std::size_t>(label)];
}

struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Images, labels and splits in file order; one image is image_pixels bytes, row-major. Wherever
// a LabelledImages is taken (BatchLoader, train/run.hpp) a Fer2013 can be passed: it is viewed
// as 1 x 48 x 48 grey images.
struct Fer2013 {
  std::vector<std::uint8_t> pixels;
  std::vector<int> labels;  // 0..6, see emotion_name
  std::vector<Split> usage;

  static constexpr ImageShape shape{1, image_side, image_side};
  LabelledImages view() const { return {shape, pixels, labels}; }
  operator LabelledImages() const { return view(); }  // NOLINT: usable wherever its view is

  std::size_t size() const { return labels.size(); }
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * image_pixels; }

  Fer2013 split(Split which) const {
    Fer2013 out;
    const auto n = static_cast<std::size_t>(std::count(usage.begin(), usage.end(), which));
    out.pixels.reserve(n * image_pixels);
    out.labels.reserve(n);
    out.usage.reserve(n);
    for (std::size_t i = 0; i < size(); ++i)
      if (usage[i] == which) out.append(image(i), labels[i], which);
    return out;
  }

  std::array<std::size_t, num_classes> class_counts() const {
    std::array<std::size_t, num_classes> counts{};
    for (const int label : labels) ++counts.at(static_cast<std::size_t>(label));
    return counts;
  }

  void append(const std::uint8_t* img, int label, Split which) {
    if (label < 0 || label >= num_classes)
      throw DataError("Fer2013::append: label " + std::to_string(label) + " is outside 0..6");
    pixels.insert(pixels.end(), img, img + image_pixels);
    labels.push_back(label);
    usage.push_back(which);
  }
};

}  // namespace fernet::data
