// stb's implementations come from Debian's libstb (linked through pkg-config "stb"), so this
// file only includes the declarations.
#include "images.hpp"

#include <stb_image.h>
#include <stb_image_resize.h>
#include <stb_image_write.h>
#include <zlib.h>

#include <algorithm>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>

namespace fernet::app {

namespace {

// The formats fernet decodes, told by their first bytes. Debian's stb (2.27) returns
// uninitialised or zero pixels for truncated BMP, TGA and PNM files (and TGA has no magic bytes
// to recognise it by), so those are refused rather than decoded.
const char* image_format(const std::vector<std::uint8_t>& bytes) {
  static constexpr std::uint8_t png[] = {0x89, 'P', 'N', 'G', '\r', '\n', 0x1a, '\n'};
  if (bytes.size() >= sizeof png && std::equal(png, png + sizeof png, bytes.begin())) return "PNG";
  if (bytes.size() >= 3 && bytes[0] == 0xFF && bytes[1] == 0xD8 && bytes[2] == 0xFF) return "JPEG";
  return nullptr;
}

std::uint32_t big_endian32(const std::uint8_t* p) {
  return std::uint32_t{p[0]} << 24 | std::uint32_t{p[1]} << 16 | std::uint32_t{p[2]} << 8 | p[3];
}

// stb inflates a PNG's pixel data (IDAT, zlib) into a buffer it doubles for as long as data
// keeps coming, so a few megabytes of IDAT could cost gigabytes whatever the header says. This
// inflates it first, into a small scratch buffer, and refuses data that is larger than the
// image its header declares, or an image whose raw pixel data exceeds max_image_raw_bytes, and
// chunks whose declared length runs past the end of the file.
void check_png_data(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  const auto refuse = [&](const std::string& why) {
    throw ImageError("'" + name + "' is not an image fernet can read (" + why + ")");
  };
  std::uint64_t limit = 0;
  z_stream zs{};
  bool started = false, ended = false;
  std::uint64_t inflated = 0;
  std::vector<std::uint8_t> scratch(std::size_t{1} << 16);
  struct End {
    z_stream* zs;
    bool* started;
    ~End() {
      if (*started) inflateEnd(zs);
    }
  } end{&zs, &started};
  for (std::size_t pos = 8; bytes.size() - pos >= 8;) {  // a chunk's length and type
    const std::uint32_t length = big_endian32(&bytes[pos]);
    const std::uint8_t* type = &bytes[pos + 4];
    // stb allocates a chunk's declared length before it reads the chunk: check it is there.
    if (length > bytes.size() - pos - 8)
      refuse("a truncated PNG: a chunk declares " + std::to_string(length) + " bytes, " +
             std::to_string(bytes.size() - pos - 8) + " remain");
    const std::uint8_t* data = &bytes[pos + 8];
    pos += 8 + std::size_t{length};
    pos += std::min<std::size_t>(4, bytes.size() - pos);  // its CRC
    if (std::memcmp(type, "CgBI", 4) == 0) refuse("an Apple-optimised PNG (CgBI), which fernet does not read");
    if (std::memcmp(type, "IHDR", 4) == 0 && length >= 13 && limit == 0) {
      const std::uint64_t w = big_endian32(data), h = big_endian32(data + 4);
      const unsigned depth = data[8], colour = data[9], interlace = data[12];
      const unsigned channels = colour == 2 ? 3 : colour == 4 ? 2 : colour == 6 ? 4 : 1;
      if (w == 0 || h == 0 || w > (1u << 24) || h > (1u << 24) || depth > 16) return;  // stb refuses these
      const std::uint64_t row_bytes = (w * channels * depth + 7) / 8;
      const std::uint64_t raw = h * row_bytes;
      if (raw > max_image_raw_bytes)
        refuse(std::to_string(w) + "x" + std::to_string(h) + " pixels of " + std::to_string(channels * depth) +
               " bits need " + std::to_string(raw >> 20) + " MiB to decode, more than the " +
               std::to_string(max_image_raw_bytes >> 20) + " MiB fernet allows");
      // One filter byte per row; an interlaced image has up to seven passes, each with its rows.
      limit = raw + h + (interlace ? 7 * h + 8 * (h + 7) : 0);
    } else if (std::memcmp(type, "IDAT", 4) == 0 && limit > 0 && !ended) {
      if (!started) {
        if (inflateInit(&zs) != Z_OK) refuse("out of memory");
        started = true;
      }
      zs.next_in = const_cast<Bytef*>(data);
      zs.avail_in = length;
      while (zs.avail_in > 0 && !ended) {
        zs.next_out = scratch.data();
        zs.avail_out = static_cast<uInt>(scratch.size());
        const int status = inflate(&zs, Z_NO_FLUSH);
        inflated += scratch.size() - zs.avail_out;
        if (inflated > limit)
          refuse("its pixel data inflates to more than the " + std::to_string(limit) +
                 " bytes its header declares: a damaged or hostile PNG");
        // A corrupt stream is stb's to report; the walk goes on, to check the later chunks' lengths.
        if (status != Z_OK) ended = true;
      }
    }
  }
}

std::vector<std::uint8_t> read_image_file(const std::string& path) {
  namespace fs = std::filesystem;
  std::error_code ec;
  if (!fs::exists(path, ec)) throw ImageError("'" + path + "': no such file");
  if (fs::is_directory(path, ec)) throw ImageError("'" + path + "' is a directory, not an image");
  std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
  if (!f) throw ImageError("cannot open '" + path + "': " + std::strerror(errno));
  std::vector<std::uint8_t> bytes;
  std::uint8_t buf[1 << 16];
  while (const std::size_t got = std::fread(buf, 1, sizeof buf, f.get())) {
    // Read in blocks and checked as it grows: a device or FIFO has no size to check first.
    if (bytes.size() + got > max_image_file_bytes)
      throw ImageError("'" + path + "' is larger than " + std::to_string(max_image_file_bytes >> 20) +
                       " MiB, more than any image fernet reads");
    bytes.insert(bytes.end(), buf, buf + got);
  }
  if (std::ferror(f.get())) throw ImageError("cannot read '" + path + "': " + std::strerror(errno));
  return bytes;
}

}  // namespace

namespace {

// The header's dimensions, after the format check and, for a PNG, the pixel-data check.
ImageSize checked_size(const std::vector<std::uint8_t>& bytes, const std::string& name, const char*& format) {
  format = image_format(bytes);
  if (!format)
    throw ImageError("'" + name + "' is not an image fernet can read (PNG or JPEG; convert BMP, GIF, TGA or PNM " +
                     "files first: fernet's decoder is not safe on damaged files of those formats)");
  if (bytes.size() > static_cast<std::size_t>(INT32_MAX)) throw ImageError("'" + name + "' is too large");
  int w = 0, h = 0, channels = 0;
  // Dimensions from the header first: the decoder allocates width x height x channels at once.
  if (!stbi_info_from_memory(bytes.data(), static_cast<int>(bytes.size()), &w, &h, &channels)) {
    const char* why = stbi_failure_reason();
    throw ImageError("'" + name + "' is not an image fernet can read (a damaged " + format +
                     " file): " + (why ? why : "unknown error"));
  }
  if (w <= 0 || h <= 0) throw ImageError("'" + name + "' is an empty image");
  if (std::strcmp(format, "PNG") == 0) check_png_data(bytes, name);
  if (static_cast<std::uint64_t>(w) * static_cast<std::uint64_t>(h) > max_image_pixels)
    throw ImageError("'" + name + "' is " + std::to_string(w) + "x" + std::to_string(h) + " pixels, more than the " +
                     std::to_string(max_image_pixels >> 20) + " megapixels (8192 x 8192) fernet decodes");
  return {w, h};
}

// `channels` (1: grey, 3: RGB) bytes per pixel, row-major.
std::vector<std::uint8_t> decode(const std::vector<std::uint8_t>& bytes, const std::string& name, int channels,
                                 ImageSize& size) {
  const char* format = nullptr;
  size = checked_size(bytes, name, format);
  int dw = 0, dh = 0, stored = 0;
  std::unique_ptr<unsigned char, void (*)(void*)> data(
      stbi_load_from_memory(bytes.data(), static_cast<int>(bytes.size()), &dw, &dh, &stored, channels),
      stbi_image_free);
  if (!data) {
    const char* why = stbi_failure_reason();
    throw ImageError("'" + name + "' is not an image fernet can read (a damaged " + format +
                     " file): " + (why ? why : "unknown error"));
  }
  if (dw != size.width || dh != size.height)
    throw ImageError("'" + name + "': its header and its pixel data disagree on the size");
  return std::vector<std::uint8_t>(data.get(), data.get() + static_cast<std::size_t>(dw) * dh * channels);
}

}  // namespace

GreyImage decode_grey(const std::vector<std::uint8_t>& bytes, const std::string& name) {
  ImageSize size;
  GreyImage img;
  img.pixels = decode(bytes, name, 1, size);
  img.width = size.width;
  img.height = size.height;
  return img;
}

RgbImage load_rgb(const std::string& path) {
  ImageSize size;
  RgbImage img;
  img.pixels = decode(read_image_file(path), path, 3, size);
  img.width = size.width;
  img.height = size.height;
  return img;
}

ImageSize image_size(const std::string& path) {
  const char* format = nullptr;
  return checked_size(read_image_file(path), path, format);
}

GreyImage load_grey(const std::string& path) { return decode_grey(read_image_file(path), path); }

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
