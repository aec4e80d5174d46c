#pragma once
// A detected face cut the way FER2013 cut its faces: the detector's box grown to the square
// FER2013 frames (fer2013_framing, measured), converted to grey, resized to 48 x 48 with area
// interpolation. Parts of the square outside the image repeat its edge pixels.
#include <algorithm>
#include <array>
#include <cmath>
#include <cstdint>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

#include "error.hpp"

namespace fernet::vision {

inline constexpr int face_side = 48;  // FER2013's images: 48 x 48 grey

// A FER2013 image relative to the detector's box: its side is `scale` box widths and its centre
// lies (dx, dy) box widths from the box's centre.
struct Framing {
  double scale = 1.0, dx = 0.0, dy = 0.0;
};

// Measured by tests/vision/measure_margin.py (README.md, "Faces in photos and video", has its
// output): the medians over the 1512 of the first 2000 FER2013 Training images in which the
// cascade found one face, upscaled 48 -> 192 px and placed on a mid-grey canvas, of image side /
// box side (quartiles 0.970 .. 1.116) and of the centre offset (quartiles within 0.022 box
// widths). FER2013 frames its faces tightly: 3.8% wider than the Haar cascade's box.
inline constexpr Framing fer2013_framing{1.038, -0.002, 0.0};

// The square FER2013 would have cut around a detected box (it may reach outside the image).
inline cv::Rect face_region(const cv::Rect& box, const Framing& f = fer2013_framing) {
  const double side = std::max(1.0, std::round(box.width * f.scale));
  const double cx = box.x + box.width / 2.0 + f.dx * box.width;
  const double cy = box.y + box.height / 2.0 + f.dy * box.width;
  const int s = static_cast<int>(side);
  return {static_cast<int>(std::lround(cx - side / 2)), static_cast<int>(std::lround(cy - side / 2)), s, s};
}

// The region of an 8-bit grey image as a 48 x 48 face, row-major.
inline std::array<std::uint8_t, face_side * face_side> crop_face(const cv::Mat& grey, const cv::Rect& region) {
  if (grey.empty() || grey.type() != CV_8UC1) throw VisionError("crop_face takes a non-empty 8-bit grey image");
  if (region.width <= 0 || region.height <= 0) throw VisionError("crop_face: the face region is empty");
  const cv::Rect inside = region & cv::Rect(0, 0, grey.cols, grey.rows);
  if (inside.empty()) throw VisionError("crop_face: the face region lies outside the image");
  cv::Mat square;
  cv::copyMakeBorder(grey(inside), square, inside.y - region.y, region.br().y - inside.br().y, inside.x - region.x,
                     region.br().x - inside.br().x, cv::BORDER_REPLICATE);
  std::array<std::uint8_t, face_side * face_side> out{};
  cv::Mat face(face_side, face_side, CV_8UC1, out.data());
  cv::resize(square, face, face.size(), 0, 0, cv::INTER_AREA);  // writes into `out`: same size and type
  return out;
}

}  // namespace fernet::vision
