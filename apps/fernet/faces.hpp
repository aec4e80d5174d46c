#pragma once
// fernet predict's photo and video modes: every face found with fernet::vision (OpenCV's Haar
// cascade, cropped as FER2013 framed its faces), classified by the checkpoint's network, drawn on
// an annotated copy and listed one CSV row per face. Compiled only when the program is built
// with FERNET_VISION (it then defines FERNET_HAVE_VISION); this header itself needs no OpenCV.
#include <atomic>
#include <functional>
#include <memory>
#include <string>
#include <vector>

#include <fernet/data/batches.hpp>

#include "models.hpp"

namespace fernet::app {

struct FaceSettings {
  std::string cascade;  // empty: fernet::vision's default (FERNET_CASCADE, then opencv-data's)
  int min_face = 32;    // pixels
  int min_neighbors = 5;
};

// The network's class probabilities of n preprocessed 48x48 faces.
using Classify = std::function<Predictions(const std::vector<float>& images, int n)>;

struct FaceResult {
  int x = 0, y = 0, width = 0, height = 0;  // the detector's box
  int predicted = 0;
  std::vector<float> probabilities;
};

// "face,x,y,w,h,predicted,predicted_name,p_Angry,...": the per-face columns after the first
// (image or frame) and one row's values.
std::string face_columns(int classes);
std::string face_row(int face, const FaceResult& r);

struct VideoJob {
  std::string source;        // a video file, or a camera index (digits only)
  std::string annotate_out;  // an annotated copy (.avi, Motion JPEG); empty: none
  std::string csv_out;       // per-frame CSV; empty: none, "-": standard output
  long max_frames = 0;       // 0: every frame (a camera: until Ctrl-C)
  const std::atomic<bool>* stop = nullptr;
};

class FaceFinder {
 public:
  FaceFinder(const FaceSettings& s, const data::Preprocess& pre, Classify classify);
  ~FaceFinder();
  FaceFinder(const FaceFinder&) = delete;
  FaceFinder& operator=(const FaceFinder&) = delete;

  // The faces of a PNG or JPEG photo (read with images.hpp's checks and caps), classified; when
  // annotate_out is given, a copy with each face's box, class and probability (PNG or JPEG, by
  // its extension) is written there, also when no face was found.
  std::vector<FaceResult> photo(const std::string& path, const std::string& annotate_out);

  // Every frame of a video file or camera; returns the number of frames read.
  long video(const VideoJob& job);

 private:
  struct Impl;
  std::unique_ptr<Impl> impl_;
};

}  // namespace fernet::app
