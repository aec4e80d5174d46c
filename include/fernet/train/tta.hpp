#pragma once
// Evaluation with test-time augmentation: the network sees crops of each full-size test image
// (it was trained on random crops of that size) and the prediction averages its outputs.
//   Views::center    one view: the centre crop
//   Views::mirrored  two views: the centre crop and its mirror (with crop = image size, the
//                    flip-only TTA that suits networks trained on whole images)
//   Views::ten_crop  ten views: the four corners and the centre, then the same five crops of the
//                    mirrored image (torchvision's TenCrop order), laid out sample-major (views
//                    of sample i at rows 10i..10i+9), so one forward pass runs them all
// Averaging: the network's outputs are averaged as they are. For raw scores (CrossEntropyLoss)
// that is the mean of the logits; for a network ending in LogSoftmax (NLLLoss) it is the mean of
// the log-probabilities (the normalised geometric mean of the probabilities once renormalised,
// which evaluate_tta does so that its NLL is that of a distribution). Argmax is unaffected by the
// renormalisation.
#include <algorithm>
#include <cstddef>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../data/augment/crop.hpp"
#include "../data/augment/flip.hpp"
#include "../data/augment/image.hpp"
#include "../kernels/element_rules.hpp"  // log_softmax_row: the one log-softmax rule
#include "../loss.hpp"
#include "metrics.hpp"

namespace fernet::tta {

using data::augment::Shape;

enum class Views { center, mirrored, ten_crop };
inline int view_count(Views v) { return v == Views::center ? 1 : v == Views::mirrored ? 2 : 10; }

namespace detail {
inline void check_crop(const char* who, Shape full, int h, int w) {
  if (h <= 0 || w <= 0 || h > full.height || w > full.width)
    throw std::invalid_argument(std::string("fernet::tta::") + who + ": crop " + std::to_string(h) + "x" +
                                std::to_string(w) + " does not fit the images (" + full.str() + ")");
}
}  // namespace detail

// out: n x C x h x w, the centre crop of each image (margins rounded as torchvision).
inline void center_crops(const float* images, int n, Shape full, int h, int w, float* out) {
  detail::check_crop("center_crops", full, h, w);
  const Shape crop{full.channels, h, w};
  const int top = data::augment::CenterCrop::offset(full.height, h);
  const int left = data::augment::CenterCrop::offset(full.width, w);
  for (int i = 0; i < n; ++i)
    data::augment::crop_at({images + i * full.size(), full}, {out + i * crop.size(), crop}, top, left);
}

// out: 10n x C x h x w, sample-major, in the order described at the top of this file.
inline void ten_crops(const float* images, int n, Shape full, int h, int w, float* out) {
  detail::check_crop("ten_crops", full, h, w);
  const Shape crop{full.channels, h, w};
  const int corner_y = full.height - h, corner_x = full.width - w;
  const int cy = data::augment::CenterCrop::offset(full.height, h);
  const int cx = data::augment::CenterCrop::offset(full.width, w);
  const int tops[5] = {0, 0, corner_y, corner_y, cy}, lefts[5] = {0, corner_x, 0, corner_x, cx};
  std::vector<float> mirrored(full.size());
  for (int i = 0; i < n; ++i) {
    const data::augment::ConstImageView image{images + i * full.size(), full};
    data::augment::flip_horizontal(image, {mirrored.data(), full});
    for (int v = 0; v < 10; ++v) {
      const data::augment::ConstImageView from = v < 5 ? image : data::augment::ConstImageView{mirrored.data(), full};
      data::augment::crop_at(from, {out + (static_cast<std::size_t>(i) * 10 + v) * crop.size(), crop}, tops[v % 5],
                             lefts[v % 5]);
    }
  }
}

// out: 2n x C x h x w, sample-major: the centre crop of each image, then its mirror.
inline void mirrored_crops(const float* images, int n, Shape full, int h, int w, float* out) {
  detail::check_crop("mirrored_crops", full, h, w);
  const Shape crop{full.channels, h, w};
  for (int i = 0; i < n; ++i) {
    float* view = out + static_cast<std::size_t>(i) * 2 * crop.size();
    center_crops(images + i * full.size(), 1, full, h, w, view);
    data::augment::flip_horizontal({view, crop}, {view + crop.size(), crop});
  }
}

inline void make_views(Views views, const float* images, int n, Shape full, int h, int w, float* out) {
  switch (views) {
    case Views::center:
      return center_crops(images, n, full, h, w, out);
    case Views::mirrored:
      return mirrored_crops(images, n, full, h, w, out);
    case Views::ten_crop:
      return ten_crops(images, n, full, h, w, out);
  }
}

// out (n x classes) = mean of each sample's `views` consecutive rows of scores.
inline void average_views(const float* scores, int n, int views, int classes, float* out) {
  for (int i = 0; i < n; ++i)
    for (int j = 0; j < classes; ++j) {
      double sum = 0.0;
      for (int v = 0; v < views; ++v) sum += scores[(static_cast<std::size_t>(i) * views + v) * classes + j];
      out[static_cast<std::size_t>(i) * classes + j] = static_cast<float>(sum / views);
    }
}

struct Options {
  int crop_height = 44, crop_width = 44;
  Views views = Views::ten_crop;
  // Views per forward call. A network keeps activation buffers for its largest batch: ten views of
  // a 500-image batch in one call held 11 GB for VggFast. 0: all views of a loader batch at once.
  int max_forward_batch = 512;
};

struct Evaluation {
  double loss = 0;
  ConfusionMatrix confusion;
  long forward_calls = 0;  // what it cost: one per loader batch unless max_forward_batch splits it
  long views_forwarded = 0;
  double accuracy() const { return confusion.accuracy(); }
};

// Mean loss and confusion matrix over every sample of `source` (a loader: batches(), batch(b)
// returning {images, labels, size} of full-size images, and start_epoch(0) if it has one, as
// data::BatchLoader). forward(x, m) returns the m x classes outputs of m crops; the pointer needs
// to stay valid only until the next call.
template <class Loss, class Source, class Forward>
Evaluation evaluate(int classes, Shape full, Source& source, Forward&& forward, Options o = {}) {
  detail::check_crop("evaluate", full, o.crop_height, o.crop_width);
  if (o.max_forward_batch < 0)
    throw std::invalid_argument("fernet::tta::evaluate: max_forward_batch must be >= 0, got " +
                                std::to_string(o.max_forward_batch));
  constexpr bool log_probs = std::is_same_v<Loss, NLLLoss>;
  const int views = view_count(o.views);
  const Shape crop{full.channels, o.crop_height, o.crop_width};
  Evaluation ev{0.0, ConfusionMatrix(classes)};
  if constexpr (requires { source.start_epoch(0); }) source.start_epoch(0);
  std::vector<float> crops, scores, mean;
  double loss_sum = 0;
  long samples = 0;
  for (int b = 0; b < source.batches(); ++b) {
    const auto batch = source.batch(b);
    const int n = batch.size, total = n * views;
    crops.resize(static_cast<std::size_t>(total) * crop.size());
    scores.resize(static_cast<std::size_t>(total) * classes);
    mean.resize(static_cast<std::size_t>(n) * classes);
    make_views(o.views, batch.images, n, full, o.crop_height, o.crop_width, crops.data());
    const int chunk = o.max_forward_batch > 0 ? o.max_forward_batch : total;
    for (int start = 0; start < total; start += chunk) {
      const int m = std::min(chunk, total - start);
      const float* y = forward(crops.data() + static_cast<std::size_t>(start) * crop.size(), m);
      std::copy(y, y + static_cast<std::size_t>(m) * classes,
                scores.data() + static_cast<std::size_t>(start) * classes);
      ++ev.forward_calls;
      ev.views_forwarded += m;
    }
    average_views(scores.data(), n, views, classes, mean.data());
    if (log_probs && views > 1)
      for (int i = 0; i < n; ++i) {
        float* row = mean.data() + static_cast<std::size_t>(i) * classes;
        kernels::log_softmax_row(row, row, classes);
      }
    loss_sum += static_cast<double>(Loss::compute(mean.data(), batch.labels, n, classes)) * n;
    for (int i = 0; i < n; ++i) ev.confusion.add(batch.labels[i], argmax_row(mean.data() + i * classes, classes));
    samples += n;
  }
  ev.loss = samples ? loss_sum / samples : 0.0;
  return ev;
}

}  // namespace fernet::tta
