#pragma once
// Labelled images, independent of any data set or file format: what BatchLoader (and so the
// Trainer) reads. LabelledImages is a non-owning view; LabelledImageSet owns its storage and is
// what a program fills with its own in-memory data.
//
// Pixels are 8-bit: almost every image source (PNG, JPEG, FER2013's CSV) is 8-bit per channel,
// 8-bit storage is a quarter of float storage (FER2013: 83 MB instead of 331 MB), and the
// float conversion (data::Preprocess: scale, offset, channel replication) happens per batch, so
// one stored set serves every network's preprocessing. Images are channels x height x width,
// row-major, one after the other; labels are class indices 0, 1, ...
#include <algorithm>
#include <cstddef>
#include <cstdint>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

namespace fernet::data {

struct ImageShape {
  int channels = 1, height = 0, width = 0;
  std::size_t pixels() const { return static_cast<std::size_t>(channels) * height * width; }
  std::string str() const {
    return std::to_string(channels) + "x" + std::to_string(height) + "x" + std::to_string(width);
  }
  friend bool operator==(const ImageShape&, const ImageShape&) = default;
};

class LabelledImages {
 public:
  LabelledImages() = default;
  // Checks that `pixels` holds labels.size() images of `shape` and that no label is negative;
  // the data must outlive the view.
  LabelledImages(ImageShape shape, std::span<const std::uint8_t> pixels, std::span<const int> labels)
      : shape_(shape), pixels_(pixels), labels_(labels) {
    if (shape.channels < 1 || shape.height < 1 || shape.width < 1)
      throw std::invalid_argument("LabelledImages: image shape " + shape.str() + " has an empty dimension");
    if (pixels.size() != labels.size() * shape.pixels())
      throw std::invalid_argument("LabelledImages: " + std::to_string(labels.size()) + " labels need " +
                                  std::to_string(labels.size() * shape.pixels()) + " pixels of shape " + shape.str() +
                                  ", got " + std::to_string(pixels.size()));
    const auto negative = std::find_if(labels.begin(), labels.end(), [](int l) { return l < 0; });
    if (negative != labels.end())
      throw std::invalid_argument("LabelledImages: label " + std::to_string(*negative) + " of image " +
                                  std::to_string(negative - labels.begin()) + " is negative");
  }

  const ImageShape& shape() const { return shape_; }
  std::size_t size() const { return labels_.size(); }
  const std::uint8_t* image(std::size_t i) const { return pixels_.data() + i * shape_.pixels(); }
  int label(std::size_t i) const { return labels_[i]; }
  std::span<const std::uint8_t> pixels() const { return pixels_; }
  std::span<const int> labels() const { return labels_; }

 private:
  ImageShape shape_;
  std::span<const std::uint8_t> pixels_;
  std::span<const int> labels_;
};

// Images and labels a program owns: set the shape, append, and pass it wherever a
// LabelledImages is taken (BatchLoader, train/run.hpp).
struct LabelledImageSet {
  ImageShape shape;
  std::vector<std::uint8_t> pixels;
  std::vector<int> labels;

  explicit LabelledImageSet(ImageShape s = {}) : shape(s) {}

  std::size_t size() const { return labels.size(); }
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * shape.pixels(); }

  // Copies one image of shape.pixels() bytes.
  void append(const std::uint8_t* img, int label) {
    if (label < 0)
      throw std::invalid_argument("LabelledImageSet::append: label " + std::to_string(label) + " is negative");
    pixels.insert(pixels.end(), img, img + shape.pixels());
    labels.push_back(label);
  }

  LabelledImages view() const { return {shape, pixels, labels}; }
  operator LabelledImages() const { return view(); }  // NOLINT: a set is usable wherever its view is
};

}  // namespace fernet::data
