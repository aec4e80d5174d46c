// fernet predict --load FILE IMAGE... | --csv FILE [--out FILE]: the class probabilities of face
// images (any format stb_image reads, any size and colour) or of the rows of a FER2013 CSV.
#include <algorithm>
#include <array>
#include <cstdint>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fernet/atomic_file.hpp>
#include <fernet/data/batches.hpp>
#include <fernet/data/fer2013.hpp>
#include <fernet/parallel.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "images.hpp"
#include "models.hpp"

namespace fernet::app {

namespace {

struct PredictArgs {
  std::string load, csv, out, model;
  std::vector<std::string> images;
  int threads = 0;
};

std::vector<float> preprocess_images(const std::vector<const std::uint8_t*>& grey, const data::Preprocess& p) {
  const std::size_t per = static_cast<std::size_t>(p.channels) * data::image_pixels;
  std::vector<float> x(grey.size() * per);
  for (std::size_t i = 0; i < grey.size(); ++i) data::preprocess_image(grey[i], 1, data::image_pixels, p, x.data() + i * per);
  return x;
}

// One line per image: the predicted emotion, then every class's probability.
void print_image_predictions(const std::vector<std::string>& paths, const Predictions& probs) {
  std::size_t width = 0;
  for (const auto& p : paths) width = std::max(width, p.size());
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const int best = probs.predicted(i);
    std::printf("%-*s  %-8s", static_cast<int>(width), paths[i].c_str(), std::string(data::emotion_name(best)).c_str());
    for (int k = 0; k < probs.classes; ++k)
      std::printf("  %s %.3f", std::string(data::emotion_name(k)).c_str(), probs.row(i)[k]);
    std::printf("\n");
  }
}

// A CSV with one row per data row: its split and label, the prediction and every probability.
std::string predictions_csv(const data::Fer2013& d, const Predictions& probs, long& correct) {
  std::string text = "row,usage,emotion,predicted,predicted_name";
  for (int k = 0; k < probs.classes; ++k) text += ",p_" + std::string(data::emotion_name(k));
  text += "\n";
  correct = 0;
  char buf[64];
  for (std::size_t i = 0; i < probs.size(); ++i) {
    const int best = probs.predicted(i);
    correct += best == d.labels[i];
    text += std::to_string(i + 1) + "," + std::string(data::split_name(d.usage[i])) + "," +
            std::to_string(d.labels[i]) + "," + std::to_string(best) + "," + std::string(data::emotion_name(best));
    for (int k = 0; k < probs.classes; ++k) {
      std::snprintf(buf, sizeof buf, ",%.5f", probs.row(i)[k]);
      text += buf;
    }
    text += "\n";
  }
  return text;
}

int cmd_predict(const PredictArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  if (a.images.empty() && a.csv.empty()) throw UsageError("give IMAGE files to classify, or --csv FILE");
  if (!a.out.empty() && a.csv.empty()) throw UsageError("--out is for --csv predictions; images are printed");
  if (!a.out.empty() && a.out != "-" && !a.csv.empty()) {  // --out would replace the input it reads
    std::error_code ec;
    if (a.out == a.csv || std::filesystem::equivalent(a.out, a.csv, ec))
      throw UsageError("--out '" + a.out + "' is the --csv input file; choose another --out");
  }
  const Checkpoint c = load_checkpoint(a.load);
  const ModelInfo& m = model_for_checkpoint(c, a.load, a.model);
  const data::Preprocess pre = checkpoint_preprocess(c, m, a.load);

  if (!a.images.empty()) {
    std::vector<std::array<std::uint8_t, data::image_pixels>> faces;
    for (const auto& path : a.images) faces.push_back(to_fer2013(load_grey(path)));  // all checked before any work
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& f : faces) ptrs.push_back(f.data());
    print_image_predictions(a.images,
                            m.predict(c, a.load, preprocess_images(ptrs, pre), static_cast<int>(faces.size())));
  }
  if (!a.csv.empty()) {
    require_input_file(a.csv, "data file");
    const data::Fer2013 d = data::load_fer2013(a.csv);
    std::vector<const std::uint8_t*> ptrs;
    for (std::size_t i = 0; i < d.size(); ++i) ptrs.push_back(d.image(i));
    const Predictions probs = m.predict(c, a.load, preprocess_images(ptrs, pre), static_cast<int>(d.size()));
    long correct = 0;
    const std::string text = predictions_csv(d, probs, correct);
    if (a.out.empty() || a.out == "-") {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      write_text_atomically(a.out, text);
      std::printf("wrote %zu predictions to %s; %ld agree with the file's labels (%.4f)\n", d.size(), a.out.c_str(),
                  correct, d.size() ? double(correct) / d.size() : 0.0);
    }
  }
  return 0;
}

}  // namespace

Command add_predict_command(CLI::App& app) {
  auto a = std::make_shared<PredictArgs>();
  auto* predict = app.add_subcommand(
      "predict", "Classify face images (PNG, JPEG, ... any size and colour) or the rows of a FER2013 CSV");
  predict->add_option("--load", a->load, "checkpoint, e.g. DIR/model.fernet")->required();
  predict->add_option("images", a->images,
                      "image files (converted to grey, centre-cropped to a square, resized to 48x48)");
  predict->add_option("--csv", a->csv, "predict every row of this FER2013-format file");
  predict->add_option("--out", a->out, "write the --csv predictions to this CSV file (default: standard output)");
  predict->add_option("--model", a->model, "expect this network (refuses a checkpoint of another)");
  predict->add_option("--threads", a->threads, "CPU threads (default: all cores)");
  return {predict, [a] { return cmd_predict(*a); }};
}

}  // namespace fernet::app
