// fernet synth --rows N --out FILE.csv[.gz]: the built-in synthetic FER2013 look-alike as a CSV
// (80% Training, 10% PublicTest, 10% PrivateTest); --images DIR also writes them as PNG and
// JPEG files (a hidden test helper for `fernet predict`).
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>

#include <fernet/data/fer2013.hpp>
#include <fernet/data/synthetic.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "images.hpp"

namespace fs = std::filesystem;

namespace fernet::app {

namespace {

struct SynthArgs {
  long rows = 8400;
  std::uint64_t seed = 2013;
  std::string out, images;
};

int cmd_synth(const SynthArgs& a) {
  if (a.rows < 1) throw UsageError("--rows must be at least 1 (got " + std::to_string(a.rows) + ")");
  if (a.out.empty() && a.images.empty()) throw UsageError("--out FILE.csv is required");
  data::SyntheticOptions o;
  o.seed = a.seed;
  o.training = static_cast<std::size_t>(a.rows) * 8 / 10;
  o.public_test = static_cast<std::size_t>(a.rows) / 10;
  o.private_test = static_cast<std::size_t>(a.rows) - o.training - o.public_test;
  const data::Fer2013 d = data::make_synthetic(o);
  if (!a.out.empty()) {
    data::write_fer2013_csv(d, a.out);
    std::printf("wrote %zu synthetic images (%zu Training, %zu PublicTest, %zu PrivateTest) to %s\n", d.size(),
                o.training, o.public_test, o.private_test, a.out.c_str());
  }
  if (!a.images.empty()) {  // test helper: each image as a colour PNG (96x96) and JPEG (120x100)
    std::error_code ec;
    fs::create_directories(a.images, ec);
    if (ec) throw std::runtime_error("cannot create '" + a.images + "': " + ec.message());
    for (std::size_t i = 0; i < d.size(); ++i) {
      const std::string stem =
          (fs::path(a.images) / ("face" + std::to_string(i) + "_" + std::string(data::emotion_name(d.labels[i]))))
              .string();
      const auto png = tinted_rgb(d.image(i), 96, 96);
      write_png(stem + ".png", 96, 96, 3, png.data());
      const auto jpg = tinted_rgb(d.image(i), 120, 100);
      write_jpeg(stem + ".jpg", 120, 100, 3, jpg.data());
    }
    std::printf("wrote %zu PNG and %zu JPEG images to %s\n", d.size(), d.size(), a.images.c_str());
  }
  return 0;
}

}  // namespace

Command add_synth_command(CLI::App& app) {
  auto a = std::make_shared<SynthArgs>();
  auto* synth = app.add_subcommand(
      "synth",
      "Write the synthetic FER2013 look-alike data set as a CSV (80% Training, 10% PublicTest, 10% PrivateTest)");
  synth->add_option("--rows", a->rows, "images")->capture_default_str();
  synth->add_option("--out", a->out, "output FER2013 CSV; gzip-compressed when it ends in .gz");
  synth->add_option("--seed", a->seed, "seed; the same seed gives the same bytes")->capture_default_str();
  synth->add_option("--images", a->images, "also write each image as PNG and JPEG into this directory")->group("");
  return {synth, [a] { return cmd_synth(*a); }};
}

}  // namespace fernet::app
