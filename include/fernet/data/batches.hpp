#pragma once
// Mini-batches over labelled 8-bit images (labelled_images.hpp; a FER2013 set is one): a
// run-time batch size, a fresh shuffle every epoch derived from (seed, epoch) alone (so a
// resumed run sees the same order), the last partial batch kept, and the input transform each
// notebook part used. Knows no data set and no file format.
#include <algorithm>
#include <cstdint>
#include <functional>
#include <numeric>
#include <stdexcept>
#include <vector>

#include "../random.hpp"
#include "augment/equalize.hpp"
#include "augment/pipeline.hpp"
#include "labelled_images.hpp"

namespace fernet::data {

// value = pixel * scale + offset; `channels` is what the network takes: grey (1-channel) images
// are replicated to that many planes, images with more channels must have exactly that many.
struct Preprocess {
  float scale = 1.f;
  float offset = 0.f;
  int channels = 1;
  bool equalize = false;  // histogram-equalise each stored plane first (OpenCV's equalizeHist)
};
namespace preprocess {
inline constexpr Preprocess raw{1.f, 0.f, 1};                 // notebook sections 3-4: 0..255 floats
inline constexpr Preprocess unit{1.f / 255.f, 0.f, 1};        // section 6: /255
inline constexpr Preprocess unit_rgb{1.f / 255.f, 0.f, 3};    // section 5: /255, grey as 3 channels
inline constexpr Preprocess centered{1.f / 63.75f, -2.f, 1};  // (pixel - 127.5) / 63.75: -2..2, zero-centred
}  // namespace preprocess

// One stored image (planes x plane_pixels bytes) as network input, the one place the rule lives
// (training batches, evaluation, predict): equalised when asked, pixel * scale + offset, a grey
// plane replicated to pre.channels planes (else planes must equal pre.channels).
inline void preprocess_image(const std::uint8_t* src, int planes, int plane_pixels, const Preprocess& pre, float* dst) {
  const std::size_t stored = static_cast<std::size_t>(planes) * plane_pixels;
  thread_local std::vector<std::uint8_t> equalized;
  if (pre.equalize) {
    equalized.resize(stored);
    for (int c = 0; c < planes; ++c)
      augment::equalize_histogram(src + static_cast<std::size_t>(c) * plane_pixels,
                                  equalized.data() + static_cast<std::size_t>(c) * plane_pixels, plane_pixels);
    src = equalized.data();
  }
  for (std::size_t p = 0; p < stored; ++p) dst[p] = src[p] * pre.scale + pre.offset;
  const int copies = planes == 1 ? pre.channels : 1;
  for (int c = 1; c < copies; ++c) std::copy(dst, dst + stored, dst + c * stored);
}

// Per-sample augmentation hook: called on each training image (channels x height x width floats,
// already preprocessed) with a generator seeded from (seed, epoch, position), so it is
// reproducible. Random crops, flips and small rotations plug in here.
using Augment = std::function<void(float* image, int channels, int height, int width, Rng& rng)>;

struct Batch {
  const float* images = nullptr;  // size x channels x height x width
  const int* labels = nullptr;
  int size = 0;
  // A shard of a batch split across processes (BatchLoader::set_shard): where its first sample
  // sits in the whole batch, and the whole batch's size (size itself when not split).
  int first = 0;
  int whole = 0;
};

class BatchLoader {
 public:
  BatchLoader(LabelledImages data, int batch_size, Preprocess pre, bool shuffle, std::uint64_t seed)
      : data_(data), batch_(batch_size), pre_(pre), shuffle_(shuffle), seed_(seed), order_(data.size()) {
    if (batch_size <= 0)
      throw std::invalid_argument("batch size must be at least 1, got " + std::to_string(batch_size));
    if (pre.channels <= 0) throw std::invalid_argument("preprocess channels must be at least 1");
    const int stored = data.shape().channels;
    if (stored != 1 && stored != pre.channels)
      throw std::invalid_argument("BatchLoader: the images have " + std::to_string(stored) + " channels but the " +
                                  "preprocessing gives " + std::to_string(pre.channels) +
                                  " (grey images are replicated to any count; others must match)");
    std::iota(order_.begin(), order_.end(), std::size_t{0});
  }

  const LabelledImages& data() const { return data_; }
  void set_augment(Augment a) { augment_ = std::move(a); }
  // Augmentation that may change the size (a random crop): each preprocessed image goes through
  // p, drawing from augment::sample_rng(seed, epoch, its index in the data set), so a sample's
  // augmentation depends neither on the batch it lands in nor on threads or resuming. Batches
  // then hold p.output_shape(full) images. fill/black/white of the transforms are preprocessed
  // values: black = offset, white = 255 * scale + offset.
  void set_pipeline(augment::Pipeline p) {
    out_ = p.output_shape(full_shape());  // throws here when p cannot take these images
    pipeline_ = std::move(p);
  }
  std::size_t samples() const { return data_.size(); }
  int batch_size() const { return batch_; }
  int batches() const { return static_cast<int>((data_.size() + batch_ - 1) / batch_); }
  // One preprocessed image before augmentation, and what a batch holds per sample.
  augment::Shape full_shape() const { return {pre_.channels, data_.shape().height, data_.shape().width}; }
  augment::Shape sample_shape() const { return pipeline_.empty() ? full_shape() : out_; }
  int sample_floats() const { return static_cast<int>(sample_shape().size()); }

  // Data-parallel training: batch(i) then gives process `rank`'s contiguous share of batch i
  // (of `ranks` near-equal shares, the earlier ones one smaller when it does not divide; a
  // share may be empty), so the processes together see the single-process batches. The order
  // stays the seed's alone, and augmentation is seeded by data-set index, so neither depends
  // on the process count.
  void set_shard(int rank, int ranks) {
    if (ranks < 1 || rank < 0 || rank >= ranks)
      throw std::invalid_argument("BatchLoader::set_shard: rank " + std::to_string(rank) + " of " +
                                  std::to_string(ranks) + " processes");
    rank_ = rank;
    ranks_ = ranks;
  }
  int shard_rank() const { return rank_; }
  int shard_count() const { return ranks_; }

  // Order of the epoch's samples: a Fisher-Yates shuffle seeded by (seed, epoch) only.
  void start_epoch(int epoch) {
    epoch_ = epoch;
    std::iota(order_.begin(), order_.end(), std::size_t{0});
    if (!shuffle_) return;
    Rng rng(hash64(seed_, static_cast<std::uint64_t>(epoch)));
    for (std::size_t i = order_.size(); i > 1; --i) std::swap(order_[i - 1], order_[rng.below(i)]);
  }

  Batch batch(int index) {
    const std::size_t whole_begin = static_cast<std::size_t>(index) * batch_;
    if (index < 0 || whole_begin >= data_.size()) throw std::out_of_range("batch index out of range");
    const int whole = static_cast<int>(std::min<std::size_t>(batch_, data_.size() - whole_begin));
    const int first = static_cast<int>(static_cast<long>(whole) * rank_ / ranks_);
    const std::size_t begin = whole_begin + first;
    const int n = static_cast<int>(static_cast<long>(whole) * (rank_ + 1) / ranks_) - first;
    const augment::Shape full = full_shape();
    const int per = sample_floats();
    const int planes = data_.shape().channels, plane_pixels = data_.shape().height * data_.shape().width;
    images_.resize(static_cast<std::size_t>(n) * per);
    labels_.resize(n);
#pragma omp parallel for schedule(static) if (n >= 32)
    for (int i = 0; i < n; ++i) {
      const std::size_t row = order_[begin + i];
      const std::uint8_t* src = data_.image(row);
      float* out = images_.data() + static_cast<std::size_t>(i) * per;
      thread_local std::vector<float> scratch;  // the full-size image a pipeline reads
      if (!pipeline_.empty()) scratch.resize(full.size());
      float* dst = pipeline_.empty() ? out : scratch.data();
      preprocess_image(src, planes, plane_pixels, pre_, dst);
      labels_[i] = data_.label(row);
      if (!pipeline_.empty()) {
        Rng rng = augment::sample_rng(seed_, epoch_, row);
        pipeline_.apply({dst, full}, {out, out_}, rng);
        dst = out;
      }
      if (augment_) {
        Rng rng(hash64(hash64(seed_, static_cast<std::uint64_t>(epoch_)) ^ 0xA06ull, begin + i));
        const augment::Shape made = sample_shape();
        augment_(dst, made.channels, made.height, made.width, rng);
      }
    }
    return {images_.data(), labels_.data(), n, first, whole};
  }

 private:
  int plane() const { return data_.shape().height * data_.shape().width; }

  LabelledImages data_;
  int batch_;
  Preprocess pre_;
  bool shuffle_;
  std::uint64_t seed_;
  int epoch_ = 0;
  int rank_ = 0, ranks_ = 1;
  std::vector<std::size_t> order_;
  std::vector<float> images_;
  std::vector<int> labels_;
  Augment augment_;
  augment::Pipeline pipeline_;
  augment::Shape out_;
};

}  // namespace fernet::data
