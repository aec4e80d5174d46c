// Classifies every face in a photo with a fernet checkpoint, the way an application embeds fernet:
// one network type chosen at compile time, the checkpoint's weights and input transform, and
// fernet::vision to find and frame the faces as FER2013 did.
//   deploy MODEL.fernet PHOTO [ANNOTATED.png]
// MODEL must hold the network below (fernet train --model tf-cnn; `fernet info --checkpoint`
// says which network a checkpoint holds).
#include <cstdio>
#include <exception>
#include <memory>
#include <stdexcept>
#include <string>
#include <vector>

#include <opencv2/imgcodecs.hpp>

#include <fernet/checkpoint.hpp>
#include <fernet/data/fer2013_dataset.hpp>
#include <fernet/loss.hpp>
#include <fernet/networks.hpp>
#include <fernet/probabilities.hpp>
#include <fernet/vision/annotate.hpp>
#include <fernet/vision/faces.hpp>

using Net = fernet::networks::TfCNN;

// The transform the network was trained with, as fernet train records it in the checkpoint.
fernet::data::Preprocess checkpoint_preprocess(const fernet::Checkpoint& c) {
  fernet::data::Preprocess p = fernet::data::preprocess::unit_rgb;  // TfCNN's default
  if (!c.get("preprocess.scale").empty()) p.scale = std::stof(c.get("preprocess.scale"));
  if (!c.get("preprocess.offset").empty()) p.offset = std::stof(c.get("preprocess.offset"));
  return p;
}

int main(int argc, char** argv) {
  if (argc < 3) {
    std::fprintf(stderr, "usage: deploy MODEL.fernet PHOTO [ANNOTATED.png]\n");
    return 2;
  }
  try {
    const fernet::Checkpoint checkpoint = fernet::Checkpoint::load(argv[1]);
    auto net = std::make_unique<Net>(0);
    fernet::restore_checkpoint(*net, checkpoint, argv[1], "tf-cnn");  // refuses another network's weights
    net->eval();

    cv::Mat photo = cv::imread(argv[2], cv::IMREAD_COLOR);
    if (photo.empty()) throw std::runtime_error(std::string("cannot read the photo '") + argv[2] + "'");
    fernet::vision::FaceDetector detector;  // opencv-data's frontal-face cascade
    const std::vector<fernet::vision::Face> faces = fernet::vision::find_faces(photo, detector);
    if (faces.empty()) std::printf("no face found in '%s'\n", argv[2]);

    std::vector<fernet::vision::Face48> pixels;
    for (const auto& f : faces) pixels.push_back(f.pixels);
    const int n = static_cast<int>(faces.size());
    const std::vector<float> x = fernet::vision::face_input(pixels, checkpoint_preprocess(checkpoint));
    constexpr int k = static_cast<int>(Net::output_shape::size);
    std::vector<float> p(static_cast<std::size_t>(n) * k);
    if (n > 0) fernet::probabilities<Net>(net->infer(x.data(), n), n, p.data());

    for (int i = 0; i < n; ++i) {
      const float* row = p.data() + static_cast<std::size_t>(i) * k;
      const int best = fernet::argmax_row(row, k);
      const std::string name(fernet::data::emotion_name(best));
      const cv::Rect& b = faces[i].box;
      std::printf("face %d at %d,%d %dx%d: %s %.3f\n", i, b.x, b.y, b.width, b.height, name.c_str(), row[best]);
      char label[48];
      std::snprintf(label, sizeof label, "%s %.2f", name.c_str(), row[best]);
      fernet::vision::annotate_face(photo, b, label);
    }
    if (argc > 3 && !cv::imwrite(argv[3], photo)) throw std::runtime_error(std::string("cannot write ") + argv[3]);
    return 0;
  } catch (const std::exception& e) {
    std::fprintf(stderr, "deploy: %s\n", e.what());
    return 1;
  }
}
