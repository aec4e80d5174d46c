// stb's implementations come from Debian's libstb (linked through pkg-config "stb"), so this
// file only includes the declarations.
#include "images.hpp"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>

#include <algorithm>
#include <cerrno>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace fernet::app {

GreyImage load_grey(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw ImageError("'" + path + "': no such file");
  if (fs::is_directory(path, ec)) throw ImageError("'" + path + "' is a directory, not an image");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw ImageError("cannot open '" + path + "': " + std::strerror(errno));
  int w = 0, h = 0, channels = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> data(stbi_load_from_file(f, &w, &h, &channels, 1), stbi_image_free);
  std::fclose(f);
  if (!data) {
    const char* why = stbi_failure_reason();
    throw ImageError("'" + path + "' is not an image fernet can read (PNG, JPEG, BMP, GIF, TGA, PNM): " +
                     (why ? why : "unknown error"));
  }
  if (w <= 0 || h <= 0) throw ImageError("'" + path + "' is an empty image");
  GreyImage img;
  img.width = w;
  img.height = h;
  img.pixels.assign(data.get(), data.get() + static_cast<std::size_t>(w) * h);
  return img;
}

std::array<std::uint8_t, 48 * 48> to_fer2013(const GreyImage& img) {
  std::array<std::uint8_t, 48 * 48> out{};
  const int side = std::min(img.width, img.height);
  const int x0 = (img.width - side) / 2, y0 = (img.height - side) / 2;
  const std::uint8_t* src = img.pixels.data() + static_cast<std::size_t>(y0) * img.width + x0;
  if (!stbir_resize_uint8(src, side, side, img.width, out.data(), 48, 48, 48, 1))
    throw ImageError("cannot resize a " + std::to_string(img.width) + "x" + std::to_string(img.height) + " image");
  return out;
}

void write_png(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels) {
  if (!stbi_write_png(path.c_str(), width, height, channels, pixels, width * channels))
    throw ImageError("cannot write '" + path + "'");
}

void write_jpeg(const std::string& path, int width, int height, int channels, const std::uint8_t* pixels) {
  if (!stbi_write_jpg(path.c_str(), width, height, channels, pixels, 92))
    throw ImageError("cannot write '" + path + "'");
}

std::vector<std::uint8_t> tinted_rgb(const std::uint8_t* grey48, int width, int height) {
  std::vector<std::uint8_t> out(static_cast<std::size_t>(width) * height * 3);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x) {
      const int v = grey48[(y * 48 / height) * 48 + x * 48 / width];
      std::uint8_t* p = &out[(static_cast<std::size_t>(y) * width + x) * 3];
      p[0] = static_cast<std::uint8_t>(std::min(255, v + 20));  // a warm tint: colour input
      p[1] = static_cast<std::uint8_t>(v);
      p[2] = static_cast<std::uint8_t>(std::max(0, v - 20));
    }
  return out;
}

}  // namespace fernet::app
