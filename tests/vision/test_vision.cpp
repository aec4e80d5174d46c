// fernet::vision: the framing arithmetic, the crop, the preprocessing, and the detector on
// scenes made at run time from real FER2013 faces (skipped without the data file).
#include <doctest/doctest.h>

#include <algorithm>
#include <cstdio>
#include <cstdlib>
#include <filesystem>
#include <string>
#include <vector>

#include <opencv2/imgproc.hpp>

#include <fernet/data/fer2013.hpp>
#include <fernet/random.hpp>
#include <fernet/vision/annotate.hpp>
#include <fernet/vision/faces.hpp>

namespace vision = fernet::vision;

namespace {

// A smooth 48x48 pattern with no face in it (the unit tests use no FER2013 image).
vision::Face48 pattern() {
  vision::Face48 f{};
  for (int y = 0; y < 48; ++y)
    for (int x = 0; x < 48; ++x) f[y * 48 + x] = static_cast<std::uint8_t>((x * 5 + y * 3 + (x * y) % 17) % 256);
  return f;
}

double iou(const cv::Rect& a, const cv::Rect& b) {
  const double inter = (a & b).area();
  return inter / (a.area() + b.area() - inter);
}

// A background with texture but no face: a diagonal gradient, blurred noise on top.
cv::Mat background(int width, int height, fernet::Rng& rng) {
  cv::Mat bg(height, width, CV_8UC1);
  for (int y = 0; y < height; ++y)
    for (int x = 0; x < width; ++x)
      bg.at<std::uint8_t>(y, x) = static_cast<std::uint8_t>(60 + 120 * (x + y) / (width + height) + rng.below(40));
  cv::GaussianBlur(bg, bg, cv::Size(7, 7), 0);
  return bg;
}

bool have_cascade() {
  if (!vision::default_cascade_path().empty()) return true;
  std::printf("[fernet: skipped] %s is not installed (Debian: opencv-data)\n", vision::default_cascade_name);
  return false;
}

}  // namespace

TEST_CASE("vision: face_region grows the detector's box about its centre, moved by the framing") {
  const vision::Framing f{1.5, 0.1, -0.1};
  const cv::Rect r = vision::face_region({100, 100, 200, 200}, f);
  CHECK(r == cv::Rect(70, 30, 300, 300));  // side 300 about (200 + 20, 200 - 20)
  const cv::Rect same = vision::face_region({10, 20, 30, 30}, {1.0, 0.0, 0.0});
  CHECK(same == cv::Rect(10, 20, 30, 30));
  // the measured framing: FER2013's square is slightly wider than the box, about the same centre
  CHECK(vision::fer2013_framing.scale > 0.9);
  CHECK(vision::fer2013_framing.scale < 1.3);
}

TEST_CASE("vision: crop_face gives back a face upscaled into a larger image (area interpolation)") {
  const vision::Face48 face = pattern();
  cv::Mat big;
  cv::resize(cv::Mat(48, 48, CV_8UC1, const_cast<std::uint8_t*>(face.data())), big, cv::Size(192, 192), 0, 0,
             cv::INTER_NEAREST);
  cv::Mat scene(400, 500, CV_8UC1, cv::Scalar(90));
  big.copyTo(scene(cv::Rect(123, 77, 192, 192)));
  CHECK(vision::crop_face(scene, {123, 77, 192, 192}) == face);  // 4x4 blocks averaged back exactly
}

TEST_CASE("vision: crop_face repeats the edge outside the image and refuses a region wholly outside") {
  cv::Mat grey(100, 100, CV_8UC1, cv::Scalar(200));
  grey(cv::Rect(0, 0, 50, 100)).setTo(cv::Scalar(10));
  const vision::Face48 half = vision::crop_face(grey, {-50, 0, 100, 100});  // left half outside: the edge (10)
  CHECK(half[0] == 10);
  CHECK(half[47] == 10);  // 0..50 of the image: still the dark half
  const vision::Face48 whole = vision::crop_face(grey, {25, 0, 100, 100});
  CHECK(whole[0] == 10);
  CHECK(whole[47] == 200);  // past the image's right edge: its last column, repeated
  CHECK_THROWS_AS(vision::crop_face(grey, {200, 200, 50, 50}), vision::VisionError);
  CHECK_THROWS_AS(vision::crop_face(cv::Mat(), {0, 0, 5, 5}), vision::VisionError);
}

TEST_CASE("vision: face_input applies the model's preprocessing and replicates the grey plane") {
  const vision::Face48 face = pattern();
  const std::vector<float> x = vision::face_input({face, face}, fernet::data::preprocess::unit_rgb);
  REQUIRE(x.size() == 2 * 3 * 48 * 48);
  CHECK(x[5] == doctest::Approx(face[5] / 255.0));
  CHECK(x[48 * 48 + 5] == x[5]);      // channel 1 = channel 0
  CHECK(x[3 * 48 * 48 + 7] == x[7]);  // second face
  const std::vector<float> c = vision::face_input({face}, fernet::data::preprocess::centered);
  CHECK(c[9] == doctest::Approx(face[9] / 63.75 - 2.0));
}

TEST_CASE("vision: a missing or invalid cascade file is named in the error") {
  CHECK_THROWS_WITH_AS(vision::FaceDetector({"/nonexistent/cascade.xml"}),
                       "face detector '/nonexistent/cascade.xml': no such file", vision::VisionError);
  const std::string junk = (std::filesystem::temp_directory_path() / "fernet_vision_junk.xml").string();
  if (std::FILE* f = std::fopen(junk.c_str(), "w")) {
    std::fputs("<opencv_storage>nothing</opencv_storage>\n", f);
    std::fclose(f);
  }
  CHECK_THROWS_WITH_AS(vision::FaceDetector({junk}), doctest::Contains("is not an OpenCV cascade file"),
                       vision::VisionError);
  std::filesystem::remove(junk);
}

TEST_CASE("vision: no face in an image without one") {
  if (!have_cascade()) return;
  vision::FaceDetector detector;
  fernet::Rng rng(3);
  CHECK(vision::find_faces(background(640, 480, rng), detector).empty());
  CHECK(vision::find_faces(cv::Mat(480, 640, CV_8UC3, cv::Scalar(40, 120, 200)), detector).empty());
  CHECK(vision::find_faces(cv::Mat(), detector).empty());
}

TEST_CASE("vision: annotate_face draws inside the image, also at its edges") {
  cv::Mat bgr(120, 160, CV_8UC3, cv::Scalar(0, 0, 0));
  vision::annotate_face(bgr, {0, 0, 60, 60}, "Happy 0.93");        // no room above: the label goes below
  vision::annotate_face(bgr, {120, 80, 40, 40}, "Surprise 0.51");  // at the right edge: shifted left
  CHECK(cv::countNonZero(cv::Mat(bgr.reshape(1))) > 0);
  CHECK(bgr.size() == cv::Size(160, 120));
}

// Real FER2013 faces, upscaled and pasted at known places into textured scenes: the detector
// must find most of them, and the square it frames (face_region) must overlap the pasted face.
TEST_CASE("vision: scenes of real FER2013 faces: recall and box overlap with the measured framing") {
  if (!have_cascade()) return;
  const std::string path = FERNET_SHARED_DATA_DIR "/fer2013-dev.csv.gz";
  if (!std::filesystem::exists(path)) {
    std::printf("[fernet: skipped] %s not found (the real FER2013 file is not on this machine)\n", path.c_str());
    return;
  }
  const fernet::data::Fer2013 test = fernet::data::load_fer2013(path).split(fernet::data::Split::PublicTest);
  REQUIRE(test.size() >= 240);
  vision::FaceDetector detector;
  fernet::Rng rng(13);
  const int scenes = 60, per_scene = 4;
  int pasted = 0, found = 0, false_faces = 0;
  double iou_sum = 0, pixel_error = 0;
  for (int s = 0; s < scenes; ++s) {
    cv::Mat scene = background(960, 640, rng);
    std::vector<cv::Rect> truth;
    for (int k = 0; k < per_scene; ++k) {  // one face in each quadrant, 96..208 px, placed at random
      const int side = 96 + static_cast<int>(rng.below(8)) * 16;
      const int x = (k % 2) * 480 + 20 + static_cast<int>(rng.below(static_cast<std::uint64_t>(440 - side)));
      const int y = (k / 2) * 320 + 10 + static_cast<int>(rng.below(static_cast<std::uint64_t>(300 - side)));
      const std::uint8_t* face = test.image(static_cast<std::size_t>(s * per_scene + k));
      cv::Mat big;
      cv::resize(cv::Mat(48, 48, CV_8UC1, const_cast<std::uint8_t*>(face)), big, cv::Size(side, side), 0, 0,
                 cv::INTER_CUBIC);
      big.copyTo(scene(cv::Rect(x, y, side, side)));
      truth.emplace_back(x, y, side, side);
    }
    const std::vector<vision::Face> faces = vision::find_faces(scene, detector);
    std::vector<bool> used(faces.size(), false);
    for (int k = 0; k < per_scene; ++k) {
      ++pasted;
      int best = -1;
      double best_iou = 0;
      for (std::size_t i = 0; i < faces.size(); ++i)
        if (const double v = iou(faces[i].region, truth[k]); v > best_iou) best_iou = v, best = static_cast<int>(i);
      if (best < 0 || best_iou < 0.5) continue;
      ++found;
      used[best] = true;
      iou_sum += best_iou;
      const std::uint8_t* face = test.image(static_cast<std::size_t>(s * per_scene + k));
      double diff = 0;
      for (int p = 0; p < 48 * 48; ++p) diff += std::abs(int(faces[best].pixels[p]) - int(face[p]));
      pixel_error += diff / (48 * 48);
    }
    false_faces += static_cast<int>(std::count(used.begin(), used.end(), false));
  }
  const double recall = double(found) / pasted, mean_iou = found ? iou_sum / found : 0;
  std::printf(
      "vision scenes: %d FER2013 PublicTest faces in %d scenes: %d found with IoU >= 0.5 (recall %.3f), "
      "mean IoU %.3f, mean |crop - original| %.1f grey levels, %d other detections\n",
      pasted, scenes, found, recall, mean_iou, found ? pixel_error / found : 0.0, false_faces);
  CHECK(recall >= 0.6);  // the cascade finds about 3 in 4 FER2013 faces alone on a grey canvas
  CHECK(mean_iou >= 0.7);
  CHECK(false_faces <= scenes / 2);  // measured: 14 in 60 scenes (duplicates and background)
}
