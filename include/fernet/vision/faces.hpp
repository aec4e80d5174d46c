#pragma once
// Every face in a photo or video frame, ready for a FER2013 network: detected (face_detector.hpp),
// framed and cut as FER2013 cut its faces (face_crop.hpp). fernet::vision's one-call entry point.
#include <vector>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "face_crop.hpp"
#include "face_detector.hpp"
#include "face_input.hpp"

namespace fernet::vision {

struct Face {
  cv::Rect box;     // the detector's box, in image pixels
  cv::Rect region;  // the square cut from the image (face_region of box; may reach outside it)
  Face48 pixels;    // that square as a 48 x 48 grey face
};

// An 8-bit grey, BGR or BGRA image as grey (OpenCV's BT.601 weights, as FER2013's grey images).
inline cv::Mat to_grey(const cv::Mat& image) {
  if (image.depth() != CV_8U) throw VisionError("fernet::vision takes 8-bit images");
  if (image.channels() == 1) return image;
  cv::Mat grey;
  cv::cvtColor(image, grey, image.channels() == 4 ? cv::COLOR_BGRA2GRAY : cv::COLOR_BGR2GRAY);
  return grey;
}

inline std::vector<Face> find_faces(const cv::Mat& image, FaceDetector& detector,
                                    const Framing& framing = fer2013_framing) {
  const cv::Mat grey = to_grey(image);
  std::vector<Face> faces;
  for (const cv::Rect& box : detector.detect(grey)) {
    Face f{box, face_region(box, framing), {}};
    f.pixels = crop_face(grey, f.region);
    faces.push_back(f);
  }
  return faces;
}

}  // namespace fernet::vision
