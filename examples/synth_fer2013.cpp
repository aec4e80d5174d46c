// Writes the procedural synthetic FER2013 look-alike (fernet/data/synthetic.hpp) as a Kaggle-style
// CSV, so every program that reads fer2013.csv can run without the real data.
//   synth_fer2013 --out FILE.csv[.gz] [--training N] [--public-test N] [--private-test N]
//                 [--seed S]
#include <charconv>
#include <cstdio>
#include <exception>
#include <string>
#include <string_view>

#include <fernet/data/fer2013.hpp>
#include <fernet/data/synthetic.hpp>

namespace {

constexpr const char* usage_text =
    "usage: synth_fer2013 --out FILE.csv[.gz] [--training N] [--public-test N]\n"
    "                     [--private-test N] [--seed S]\n"
    "Writes a synthetic FER2013-like data set (48x48 grey faces, 7 expressions) in the Kaggle\n"
    "CSV format; gzip-compressed when FILE ends in .gz.\n"
    "  --out FILE         output path (required)\n"
    "  --training N       Training rows (default 7000)\n"
    "  --public-test N    PublicTest rows (default 1400)\n"
    "  --private-test N   PrivateTest rows (default 0)\n"
    "  --seed S           random seed (default 2013); the same seed gives the same bytes\n";

struct UsageError {
  std::string message;
};

std::uint64_t parse_number(std::string_view flag, std::string_view text) {
  std::uint64_t value = 0;
  const auto [end, error] = std::from_chars(text.data(), text.data() + text.size(), value);
  if (text.empty() || error != std::errc() || end != text.data() + text.size())
    throw UsageError{std::string(flag) + " needs a non-negative integer, got '" + std::string(text) + "'"};
  return value;
}

}  // namespace

int main(int argc, char** argv) {
  fernet::data::SyntheticOptions options;
  std::string out_path;
  try {
    for (int i = 1; i < argc; ++i) {
      const std::string_view flag = argv[i];
      if (flag == "--help" || flag == "-h") {
        std::fputs(usage_text, stdout);
        return 0;
      }
      if (flag != "--out" && flag != "--training" && flag != "--public-test" && flag != "--private-test" &&
          flag != "--seed")
        throw UsageError{"unknown flag '" + std::string(flag) + "'"};
      if (i + 1 == argc) throw UsageError{std::string(flag) + " needs a value"};
      const std::string_view value = argv[++i];
      if (flag == "--out") out_path = value;
      else if (flag == "--training") options.training = parse_number(flag, value);
      else if (flag == "--public-test") options.public_test = parse_number(flag, value);
      else if (flag == "--private-test") options.private_test = parse_number(flag, value);
      else options.seed = parse_number(flag, value);
    }
    if (out_path.empty()) throw UsageError{"--out FILE is required"};
  } catch (const UsageError& e) {
    std::fprintf(stderr, "synth_fer2013: %s\n%s", e.message.c_str(), usage_text);
    return 2;
  }

  try {
    const fernet::data::Fer2013 data = fernet::data::make_synthetic(options);
    fernet::data::write_fer2013_csv(data, out_path);
    std::printf("wrote %zu images (%zu Training, %zu PublicTest, %zu PrivateTest) to %s\n", data.size(),
                options.training, options.public_test, options.private_test, out_path.c_str());
  } catch (const std::exception& e) {
    std::fprintf(stderr, "synth_fer2013: %s\n", e.what());
    return 1;
  }
}
