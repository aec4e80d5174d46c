// fernet predict --load FILE IMAGE... | --csv FILE | --video FILE|N: the class probabilities of
// 48x48 face images, of every face found in photos and video (faces.hpp, built with fernet::vision),
// or of the rows of a FER2013 CSV.
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
#ifdef FERNET_HAVE_VISION
#include "faces.hpp"
#endif

namespace fernet::app {

namespace {

struct PredictArgs {
  std::string load, csv, out, model;
  std::vector<std::string> images;
  int threads = 0;
  // photos and video
  bool no_detect = false, half_weights = false;
  std::string annotate_out, video, cascade;
  int min_face = 32, neighbors = 5;
  long max_frames = 0;
};

#ifndef FERNET_HAVE_VISION
// What a photo needs when this fernet cannot find faces.
// photo: whether --no-detect is a way out (it is for an image, not for a video).
[[noreturn]] void no_vision(const std::string& what, bool photo = true) {
  throw std::runtime_error(what +
                           ": finding faces needs fernet's vision component, which this fernet was built without "
                           "(install OpenCV: apt-get install libopencv-dev opencv-data, then configure with "
                           "-DFERNET_VISION=ON and rebuild)" +
                           (photo ? std::string("; or pass --no-detect to classify each image, centre-cropped and "
                                                "resized to 48x48, as one face")
                                  : std::string("; reading video needs it too")));
}

#else
// A CSV field: quoted when it holds a comma, a quote or a line break (a path may).
std::string csv_field(const std::string& s) {
  if (s.find_first_of(",\"\r\n") == std::string::npos) return s;
  std::string q = "\"";
  for (const char ch : s) q += ch == '"' ? std::string("\"\"") : std::string(1, ch);
  return q + "\"";
}

// Where a photo's annotated copy goes: --annotate-out, else next to --out as STEM.annotated.png,
// else nowhere.
std::string annotated_path(const PredictArgs& a, const std::string& photo) {
  if (!a.annotate_out.empty()) return a.annotate_out;
  if (a.out.empty() || a.out == "-") return {};
  return (std::filesystem::path(a.out).parent_path() /
          (std::filesystem::path(photo).stem().string() + ".annotated.png"))
      .string();
}
#endif

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
  if (!a.video.empty() && (!a.images.empty() || !a.csv.empty()))
    throw UsageError("--video takes no IMAGE files and no --csv; run predict once for each");
  if (a.images.empty() && a.csv.empty() && a.video.empty())
    throw UsageError("give IMAGE files to classify, or --csv FILE, or --video FILE|CAMERA");
  if (a.min_face < 1 || a.neighbors < 0 || a.max_frames < 0)
    throw UsageError("--min-face must be at least 1, --neighbors and --max-frames at least 0");
  if (!a.out.empty() && a.out != "-" && !a.csv.empty()) {  // --out would replace the input it reads
    std::error_code ec;
    if (a.out == a.csv || std::filesystem::equivalent(a.out, a.csv, ec))
      throw UsageError("--out '" + a.out + "' is the --csv input file; choose another --out");
  }
  const Checkpoint c = load_checkpoint(a.load);
  const ModelInfo& m = model_for_checkpoint(c, a.load, a.model);
  const data::Preprocess pre = checkpoint_preprocess(c, m, a.load);
  // Images: 48x48 ones (and all of them with --no-detect) are faces as they are; any other size
  // is a photo to find faces in. Every file is checked before any work.
  std::vector<std::string> faces48, photos;
  for (const auto& path : a.images) {
    const ImageSize size = image_size(path);
    (a.no_detect || (size.width == 48 && size.height == 48) ? faces48 : photos).push_back(path);
  }
  if (!a.out.empty() && a.csv.empty() && photos.empty() && a.video.empty())
    throw UsageError(
        "--out is for --csv predictions and for the faces found in photos or video; 48x48 images are "
        "printed");
  if (!a.out.empty() && !a.csv.empty() && !photos.empty())
    throw UsageError(
        "--out takes either the --csv predictions or the faces found in photos; run predict once for each");
  if (!a.annotate_out.empty() && a.video.empty() && photos.size() != 1)
    throw UsageError(
        "--annotate-out names one file: give one photo (with several, --out DIR/faces.csv puts each "
        "photo's annotated copy next to it)");
#ifndef FERNET_HAVE_VISION
  if (!a.video.empty()) no_vision("--video", false);
  if (!photos.empty()) {
    const ImageSize size = image_size(photos.front());
    no_vision("'" + photos.front() + "' is " + std::to_string(size.width) + "x" + std::to_string(size.height) +
              " pixels, not a 48x48 face");
  }
#endif

  if (!faces48.empty()) {
    std::vector<std::array<std::uint8_t, data::image_pixels>> faces;
    for (const auto& path : faces48) faces.push_back(to_fer2013(load_grey(path)));
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& f : faces) ptrs.push_back(f.data());
    print_image_predictions(faces48,
                            m.predict(c, a.load, preprocess_images(ptrs, pre), static_cast<int>(faces.size()),
                                      a.half_weights));
  }
#ifdef FERNET_HAVE_VISION
  if (!photos.empty() || !a.video.empty()) {
    FaceFinder finder({a.cascade, a.min_face, a.neighbors}, pre,
                      [&](const std::vector<float>& x, int n) { return m.predict(c, a.load, x, n, a.half_weights); });
    if (!a.video.empty()) {
      const StopSignals signals;  // Ctrl-C ends a camera's (or a long video's) run, keeping what was read
      // The per-frame CSV: --out, else standard output unless an annotated video is all that was asked for.
      const std::string csv = !a.out.empty() ? a.out : a.annotate_out.empty() ? "-" : "";
      finder.video({a.video, a.annotate_out, csv, a.max_frames, &stop_requested()});
      return 0;
    }
    // Annotated copies would overwrite each other when two photos share a name.
    std::vector<std::string> annotated;
    for (const auto& photo : photos) {
      annotated.push_back(annotated_path(a, photo));
      for (std::size_t i = 0; i + 1 < annotated.size(); ++i)
        if (!annotated.back().empty() && annotated[i] == annotated.back())
          throw UsageError("'" + photos[i] + "' and '" + photo + "' would both be annotated as '" + annotated.back() +
                           "'; rename one, or give them separately with --annotate-out");
    }
    const bool to_stdout = a.out.empty() || a.out == "-";
    std::FILE* note = to_stdout ? stderr : stdout;  // messages never mix into the CSV
    std::string text = "image," + face_columns(data::num_classes) + "\n";
    long total = 0;
    for (std::size_t p = 0; p < photos.size(); ++p) {
      const std::vector<FaceResult> found = finder.photo(photos[p], annotated[p]);
      if (found.empty()) std::fprintf(note, "no face found in '%s'\n", printable(photos[p]).c_str());
      for (std::size_t i = 0; i < found.size(); ++i)
        text += csv_field(photos[p]) + "," + face_row(static_cast<int>(i), found[i]) + "\n";
      total += static_cast<long>(found.size());
      if (!annotated[p].empty()) std::fprintf(note, "wrote %s\n", printable(annotated[p]).c_str());
    }
    if (to_stdout) {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      write_text_atomically(a.out, text);
      std::printf("wrote %ld faces from %zu photos to %s\n", total, photos.size(), a.out.c_str());
    }
  }
#endif
  if (!a.csv.empty()) {
    require_input_file(a.csv, "data file");
    const data::Fer2013 d = data::load_fer2013(a.csv);
    std::vector<const std::uint8_t*> ptrs;
    for (std::size_t i = 0; i < d.size(); ++i) ptrs.push_back(d.image(i));
    const Predictions probs = m.predict(c, a.load, preprocess_images(ptrs, pre), static_cast<int>(d.size()), a.half_weights);
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
      "predict",
      "Classify faces: 48x48 face images, every face in photos (PNG, JPEG) or video, or the rows of a "
      "FER2013 CSV");
  predict->add_option("--load", a->load, "checkpoint, e.g. DIR/model.fernet")->required();
  predict->add_option("images", a->images,
                      "PNG or JPEG files: a 48x48 image is one face; in any other, every face is found (grey, "
                      "framed as FER2013, resized to 48x48)");
  predict->add_option("--csv", a->csv, "predict every row of this FER2013-format file");
  predict->add_option("--out", a->out,
                      "write the --csv predictions, or one row per face found in photos or video, to this CSV file "
                      "(default: standard output)");
  predict->add_flag("--no-detect", a->no_detect,
                    "find no faces: each image is one face (centre-cropped to a square, resized to 48x48)");
  predict->add_option("--annotate-out", a->annotate_out,
                      "a copy of the photo (.png, .jpg) or video (.avi) with each face's box, class and probability "
                      "(default with --out: STEM.annotated.png next to it)");
  predict->add_option("--video", a->video, "a video file, or a camera's index (0, 1, ...)");
  predict->add_option("--max-frames", a->max_frames, "stop after this many frames (default: all; a camera: Ctrl-C)");
  predict->add_option("--cascade", a->cascade,
                      "the face detector, an OpenCV cascade file (default: $FERNET_CASCADE, else opencv-data's "
                      "haarcascade_frontalface_default.xml)");
  predict->add_option("--min-face", a->min_face, "the smallest face searched, in pixels (default 32)");
  predict->add_option("--neighbors", a->neighbors,
                      "detections a face needs (default 5; fewer finds more faces and more false ones)");
  predict->add_option("--model", a->model, "expect this network (refuses a checkpoint of another)");
  predict->add_option("--threads", a->threads, "CPU threads (default: all cores)");
  predict->add_flag("--half-weights", a->half_weights, half_weights_help);
  return {predict, [a] { return cmd_predict(*a); }};
}

}  // namespace fernet::app
