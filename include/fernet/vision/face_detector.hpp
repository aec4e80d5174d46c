#pragma once
// Faces in a grey image, found by OpenCV's frontal-face Haar cascade (Debian's opencv-data
// installs it). The settings are the ones the FER2013 framing was measured with
// (tests/vision/measure_margin.py), so face_crop.hpp's fer2013_framing fits the boxes it gives.
#include <algorithm>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/objdetect.hpp>

#include "error.hpp"

namespace fernet::vision {

struct DetectorOptions {
  std::string cascade;        // the cascade XML; empty: default_cascade_path()
  double scale_factor = 1.1;  // step between the scales searched
  int min_neighbors = 5;      // overlapping hits a face needs: fewer finds more, and more false faces
  int min_face = 32;          // smallest face side searched, in pixels
};

inline constexpr const char* default_cascade_name = "haarcascade_frontalface_default.xml";

// FERNET_CASCADE when set, else the first of the places OpenCV's packages install the cascade
// (Debian's opencv-data, an OpenCV built from source) that holds it; empty when none does.
inline std::string default_cascade_path() {
  if (const char* env = std::getenv("FERNET_CASCADE"); env && *env) return env;
  for (const char* dir : {"/usr/share/opencv4/haarcascades", "/usr/local/share/opencv4/haarcascades",
                          "/usr/share/opencv/haarcascades", "/usr/local/share/opencv/haarcascades"}) {
    const std::filesystem::path p = std::filesystem::path(dir) / default_cascade_name;
    std::error_code ec;
    if (std::filesystem::is_regular_file(p, ec)) return p.string();
  }
  return {};
}

class FaceDetector {
 public:
  explicit FaceDetector(DetectorOptions o = {}) : options_(std::move(o)) {
    if (options_.cascade.empty()) options_.cascade = default_cascade_path();
    if (options_.cascade.empty())
      throw VisionError(std::string("no face detector: ") + default_cascade_name +
                        " is not installed (Debian: apt-get install opencv-data) and FERNET_CASCADE is not set; "
                        "name the cascade file with --cascade FILE");
    std::error_code ec;
    if (!std::filesystem::is_regular_file(options_.cascade, ec))
      throw VisionError("face detector '" + options_.cascade + "': no such file");
    // OpenCV throws on some malformed files and returns false on others; either way the message
    // here says which file.
    bool loaded = false;
    std::string why;
    try {
      loaded = cascade_.load(options_.cascade) && !cascade_.empty();
    } catch (const cv::Exception& e) { why = std::string(": ") + e.err; }
    if (!loaded) throw VisionError("face detector '" + options_.cascade + "' is not an OpenCV cascade file" + why);
    if (options_.scale_factor <= 1.0) throw VisionError("the detector's scale factor must be above 1");
    if (options_.min_face < 1 || options_.min_neighbors < 0)
      throw VisionError("the detector's minimum face size must be at least 1 pixel and its neighbours at least 0");
  }

  const DetectorOptions& options() const { return options_; }

  // The faces in an 8-bit grey image, top to bottom, then left to right.
  std::vector<cv::Rect> detect(const cv::Mat& grey) {
    if (grey.empty()) return {};
    if (grey.type() != CV_8UC1) throw VisionError("the face detector takes 8-bit grey images");
    std::vector<cv::Rect> faces;
    cascade_.detectMultiScale(grey, faces, options_.scale_factor, options_.min_neighbors, 0,
                              cv::Size(options_.min_face, options_.min_face));
    std::sort(faces.begin(), faces.end(),
              [](const cv::Rect& a, const cv::Rect& b) { return a.y != b.y ? a.y < b.y : a.x < b.x; });
    return faces;
  }

 private:
  DetectorOptions options_;
  cv::CascadeClassifier cascade_;
};

}  // namespace fernet::vision
