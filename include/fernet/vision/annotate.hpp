#pragma once
// Drawing a classified face on a colour (BGR) image: its box and, above it (inside the image),
// a label such as "Happy 0.93" on a filled background that keeps it readable on any photo.
#include <algorithm>
#include <string>

#include <opencv2/core.hpp>
#include <opencv2/imgproc.hpp>

namespace fernet::vision {

inline void annotate_face(cv::Mat& bgr, const cv::Rect& box, const std::string& label,
                          const cv::Scalar& colour = {0, 200, 255}) {
  // Line width and text size grow with the image, so that the label reads the same on a
  // thumbnail and on a 4000-pixel photo.
  const int side = std::min(bgr.cols, bgr.rows);
  const int thick = std::max(1, side / 300);
  const double font = std::max(0.4, side / 900.0);
  cv::rectangle(bgr, box, colour, thick, cv::LINE_AA);
  int baseline = 0;
  const cv::Size text = cv::getTextSize(label, cv::FONT_HERSHEY_SIMPLEX, font, thick, &baseline);
  const int pad = 2 * thick;
  int top = box.y - text.height - baseline - 2 * pad;
  if (top < 0) top = std::min(bgr.rows - text.height - baseline - 2 * pad, box.br().y);  // below the box instead
  const int left = std::clamp(box.x, 0, std::max(0, bgr.cols - text.width - 2 * pad));
  cv::rectangle(bgr, cv::Rect(left, top, text.width + 2 * pad, text.height + baseline + 2 * pad), colour, cv::FILLED);
  cv::putText(bgr, label, cv::Point(left + pad, top + pad + text.height), cv::FONT_HERSHEY_SIMPLEX, font,
              cv::Scalar(0, 0, 0), thick, cv::LINE_AA);
}

}  // namespace fernet::vision
