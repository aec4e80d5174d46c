#pragma once
// Image files for `fernet predict` (decoding with stb_image: PNG and JPEG only, size-capped)
// and for the hidden `fernet synth --images` test helper (encoding with stb_image_write).
#include <array>
#include <cstddef>
#include <cstdint>
#include <stdexcept>
#include <string>
#include <vector>

namespace fernet::app {

struct ImageError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct GreyImage {
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major
};

struct RgbImage {  // for finding faces in photos (faces.hpp): the annotated copy keeps the colours
  int width = 0, height = 0;
  std::vector<std::uint8_t> pixels;  // row-major, R G B
};

// Caps on what one image may cost: its file and its decoded size (64 megapixels: 8192 x 8192),
// checked before anything that large is allocated.
inline constexpr std::size_t max_image_file_bytes = std::size_t{64} << 20;
inline constexpr std::uint64_t max_image_pixels = std::uint64_t{64} << 20;
// A PNG's raw pixel data (width x height x channels x bit depth) is capped too: 256 MiB is a
// 64-megapixel RGBA image at 8 bits; its pixel data may not inflate past what its header declares.
inline constexpr std::uint64_t max_image_raw_bytes = std::uint64_t{256} << 20;

// A PNG or JPEG image converted to grey (ITU-R BT.601 luma, alpha dropped); `name` is for messages.
GreyImage decode_grey(const std::vector<std::uint8_t>& bytes, const std::string& name);
GreyImage load_grey(const std::string& path);  // the file at path, read with the caps above
RgbImage load_rgb(const std::string& path);    // the same checks and caps; grey images become RGB
// Width and height from the file's header, after the format and size checks (the file is read,
// not decoded): how predict tells a 48x48 face from a photo before choosing how to decode it.
struct ImageSize {
  int width = 0, height = 0;
};
ImageSize image_size(const std::string& path);

// The largest centred square, resized to 48x48 (the FER2013 format).
std::array<std::uint8_t, 48 * 48> to_fer2013(const GreyImage& img);

// width x height x channels (1 or 3) pixels.
void write_png(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels);
void write_jpeg(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels);

// A 48x48 grey image scaled to width x height and tinted, as RGB (for test images).
std::vector<std::uint8_t> tinted_rgb(const std::uint8_t* grey48, int width, int height);

}  // namespace fernet::app
