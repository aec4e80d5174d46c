// libFuzzer harness: the image path of `fernet predict`: format check, header dimensions and the
// pixel cap, stb decoding, then the centre crop and resize to 48x48. Every rejection must be an
// ImageError. (An uninitialised pixel would need MemorySanitizer to show; the format whitelist is
// what keeps the formats where Debian's stb has that defect out.)
#include <cstdint>
#include <cstdlib>
#include <vector>

#include "../../apps/fernet/images.hpp"

extern "C" int LLVMFuzzerTestOneInput(const std::uint8_t* data, std::size_t size) {
  using namespace fernet::app;
  try {
    const GreyImage img = decode_grey(std::vector<std::uint8_t>(data, data + size), "fuzz");
    if (img.width <= 0 || img.height <= 0 ||
        img.pixels.size() != static_cast<std::size_t>(img.width) * static_cast<std::size_t>(img.height))
      std::abort();
    const auto small = to_fer2013(img);
    (void)small;
  } catch (const ImageError&) {}
  return 0;
}
