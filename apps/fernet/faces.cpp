// fernet predict's photo and video modes over fernet::vision (see faces.hpp).
#include "faces.hpp"

#include <unistd.h>

#include <cctype>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <stdexcept>

#include <opencv2/imgcodecs.hpp>
#include <opencv2/imgproc.hpp>
#include <opencv2/videoio.hpp>

#include <fernet/atomic_file.hpp>
#include <fernet/data/fer2013_dataset.hpp>
#include <fernet/vision/annotate.hpp>
#include <fernet/vision/faces.hpp>

#include "cli_common.hpp"
#include "images.hpp"

namespace fernet::app {

namespace fs = std::filesystem;

std::string face_columns(int classes) {
  std::string text = "face,x,y,w,h,predicted,predicted_name";
  for (int k = 0; k < classes; ++k) text += ",p_" + std::string(data::emotion_name(k));
  return text;
}

std::string face_row(int face, const FaceResult& r) {
  std::string text = std::to_string(face) + "," + std::to_string(r.x) + "," + std::to_string(r.y) + "," +
                     std::to_string(r.width) + "," + std::to_string(r.height) + "," + std::to_string(r.predicted) +
                     "," + std::string(data::emotion_name(r.predicted));
  char buf[32];
  for (const float p : r.probabilities) {
    std::snprintf(buf, sizeof buf, ",%.5f", p);
    text += buf;
  }
  return text;
}

namespace {

std::string lower_extension(const std::string& path) {
  std::string ext = fs::path(path).extension().string();
  for (char& c : ext) c = static_cast<char>(std::tolower(static_cast<unsigned char>(c)));
  return ext;
}

// The annotated photo, encoded by its extension and written atomically.
void write_annotated(const std::string& path, const cv::Mat& bgr) {
  const std::string ext = lower_extension(path);
  if (ext != ".png" && ext != ".jpg" && ext != ".jpeg")
    throw UsageError("--annotate-out '" + path + "': name a .png or .jpg file");
  std::vector<std::uint8_t> bytes;
  if (!cv::imencode(ext, bgr, bytes)) throw IoError("cannot encode '" + path + "'");
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
      throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  });
}

bool all_digits(const std::string& s) {
  if (s.empty() || s.size() > 4) return false;
  for (const char c : s)
    if (!std::isdigit(static_cast<unsigned char>(c))) return false;
  return true;
}

// Removes a temporary video when the run ends without renaming it into place.
struct TemporaryFile {
  std::string path;
  ~TemporaryFile() {
    if (!path.empty()) ::unlink(path.c_str());
  }
};

}  // namespace

struct FaceFinder::Impl {
  vision::FaceDetector detector;
  data::Preprocess pre;
  Classify classify;

  // The faces of one BGR image, classified and drawn on it.
  std::vector<FaceResult> run(cv::Mat& bgr) {
    const std::vector<vision::Face> faces = vision::find_faces(bgr, detector);
    std::vector<FaceResult> out;
    if (faces.empty()) return out;
    std::vector<vision::Face48> pixels;
    for (const auto& f : faces) pixels.push_back(f.pixels);
    const Predictions probs = classify(vision::face_input(pixels, pre), static_cast<int>(faces.size()));
    char label[64];
    for (std::size_t i = 0; i < faces.size(); ++i) {
      const cv::Rect& b = faces[i].box;
      FaceResult r{b.x,
                   b.y,
                   b.width,
                   b.height,
                   probs.predicted(i),
                   std::vector<float>(probs.row(i), probs.row(i) + probs.classes)};
      std::snprintf(label, sizeof label, "%s %.2f", std::string(data::emotion_name(r.predicted)).c_str(),
                    r.probabilities[r.predicted]);
      vision::annotate_face(bgr, b, label);
      out.push_back(std::move(r));
    }
    return out;
  }
};

FaceFinder::FaceFinder(const FaceSettings& s, const data::Preprocess& pre, Classify classify)
    : impl_(new Impl{vision::FaceDetector({s.cascade, 1.1, s.min_neighbors, s.min_face}), pre, std::move(classify)}) {}

FaceFinder::~FaceFinder() = default;

std::vector<FaceResult> FaceFinder::photo(const std::string& path, const std::string& annotate_out) {
  RgbImage img = load_rgb(path);  // format, file size and pixel count checked before decoding
  cv::Mat bgr;
  cv::cvtColor(cv::Mat(img.height, img.width, CV_8UC3, img.pixels.data()), bgr, cv::COLOR_RGB2BGR);
  std::vector<FaceResult> faces = impl_->run(bgr);
  if (!annotate_out.empty()) write_annotated(annotate_out, bgr);
  return faces;
}

long FaceFinder::video(const VideoJob& job) {
  if (!job.annotate_out.empty() && lower_extension(job.annotate_out) != ".avi")
    throw UsageError("--annotate-out '" + job.annotate_out + "': a video is written as Motion JPEG in a .avi file");
  cv::VideoCapture capture;
  const bool camera = all_digits(job.source);
  if (camera) {
    if (!capture.open(std::stoi(job.source)))
      throw std::runtime_error("cannot open camera " + job.source +
                               ": there is no such camera, it is in use, or fernet may not read it (check "
                               "ls /dev/video*)");
  } else {
    require_input_file(job.source, "video file");
    if (!capture.open(job.source))
      throw std::runtime_error("'" + job.source + "' is not a video fernet can read (OpenCV could not open it)");
  }
  const auto check_size = [&](double width, double height) {
    if (width * height > static_cast<double>(max_image_pixels))
      throw std::runtime_error("'" + job.source + "': its frames are " + std::to_string(std::lround(width)) + "x" +
                               std::to_string(std::lround(height)) + " pixels, more than the " +
                               std::to_string(max_image_pixels >> 20) + " megapixels fernet reads");
  };
  // The container's frame size, before a frame is decoded; the first frame is checked again, the
  // others must keep its size.
  check_size(capture.get(cv::CAP_PROP_FRAME_WIDTH), capture.get(cv::CAP_PROP_FRAME_HEIGHT));
  const double fps_read = capture.get(cv::CAP_PROP_FPS);
  const double fps = std::isfinite(fps_read) && fps_read > 0 && fps_read <= 240 ? fps_read : 25.0;

  std::string csv = "frame," + face_columns(data::num_classes) + "\n";
  const bool csv_stdout = job.csv_out == "-";
  if (csv_stdout) std::fputs(csv.c_str(), stdout);

  cv::VideoWriter writer;
  TemporaryFile tmp;
  cv::Size size;
  cv::Mat frame;
  long frames = 0, faces = 0;
  while ((job.max_frames == 0 || frames < job.max_frames) && !(job.stop && job.stop->load())) {
    if (!capture.read(frame) || frame.empty()) break;
    if (frame.depth() != CV_8U || (frame.channels() != 3 && frame.channels() != 1))
      throw std::runtime_error("'" + job.source + "': frame " + std::to_string(frames) +
                               " is not 8-bit colour or grey");
    if (frame.channels() == 1) cv::cvtColor(frame, frame, cv::COLOR_GRAY2BGR);
    if (frames == 0) {
      check_size(frame.cols, frame.rows);
      size = frame.size();
      if (!job.annotate_out.empty()) {
        // Written under a temporary name (with the extension, which tells OpenCV the container)
        // and renamed when complete, as fernet writes every file.
        const fs::path target(job.annotate_out);
        const fs::path dir = target.has_parent_path() ? target.parent_path() : fs::path(".");
        tmp.path = (dir / ("." + target.stem().string() + ".tmp." + std::to_string(::getpid()) + ".avi")).string();
        if (!writer.open(tmp.path, cv::VideoWriter::fourcc('M', 'J', 'P', 'G'), fps, size))
          throw IoError("cannot write '" + job.annotate_out + "' (OpenCV could not open a Motion JPEG AVI writer)");
      }
    } else if (frame.size() != size) {
      throw std::runtime_error("'" + job.source + "': frame " + std::to_string(frames) + " changes size");
    }
    const std::vector<FaceResult> found = impl_->run(frame);
    for (std::size_t i = 0; i < found.size(); ++i) {
      const std::string row = std::to_string(frames) + "," + face_row(static_cast<int>(i), found[i]) + "\n";
      if (csv_stdout) std::fputs(row.c_str(), stdout);
      else csv += row;
    }
    faces += static_cast<long>(found.size());
    if (writer.isOpened()) writer.write(frame);
    ++frames;
  }
  if (frames == 0)
    throw std::runtime_error("'" + job.source + "': no frame could be read" +
                             (camera ? std::string(" from the camera") : std::string(" (an empty or damaged video)")));
  if (writer.isOpened()) {
    writer.release();
    if (std::rename(tmp.path.c_str(), job.annotate_out.c_str()) != 0)
      throw IoError("cannot write '" + job.annotate_out + "': " + std::strerror(errno));
    tmp.path.clear();
  }
  if (!job.csv_out.empty() && !csv_stdout) write_text_atomically(job.csv_out, csv);
  std::FILE* note = csv_stdout ? stderr : stdout;
  std::fprintf(note, "%s: %ld frames, %ld faces", camera ? ("camera " + job.source).c_str() : job.source.c_str(),
               frames, faces);
  if (!job.annotate_out.empty()) std::fprintf(note, "; wrote %s", job.annotate_out.c_str());
  if (!job.csv_out.empty() && !csv_stdout) std::fprintf(note, "; wrote %s", job.csv_out.c_str());
  std::fprintf(note, "\n");
  return frames;
}

}  // namespace fernet::app
