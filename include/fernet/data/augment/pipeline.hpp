#pragma once
// A composable augmentation pipeline: transforms applied one after the other, each reading the
// previous one's output, with sizes that may change on the way (a crop):
//
//   namespace aug = fernet::data::augment;
//   const aug::Pipeline train{aug::RandomCrop{44, 4}, aug::HorizontalFlip{0.5f},
//                             aug::Affine{.degrees = 10, .translate = 0.05f, .scale_min = 0.9f, .scale_max = 1.1f},
//                             aug::RandomErasing{.p = 0.5f}};
//   const aug::Shape out = train.output_shape({1, 48, 48});        // 1 x 44 x 44
//   fernet::Rng rng = aug::sample_rng(seed, epoch, index_in_data_set);
//   train.apply({in, {1, 48, 48}}, {dst, out}, rng);
//
// A transform is any type with `Shape output_shape(Shape in) const` (throws on an input it cannot
// take) and `void apply(ConstImageView in, ImageView out, Rng&) const` (out does not alias in).
// Transforms hold only their settings, so one pipeline serves every thread at once.
#include <algorithm>
#include <concepts>
#include <cstdint>
#include <memory>
#include <type_traits>
#include <utility>
#include <vector>

#include "../../random.hpp"
#include "image.hpp"
#include "seed.hpp"

namespace fernet::data::augment {

template <class T>
concept ImageTransform = requires(const T& t, Shape s, ConstImageView in, ImageView out, Rng& rng) {
  { t.output_shape(s) } -> std::same_as<Shape>;
  t.apply(in, out, rng);
};

// Any transform, behind one interface (copies share the immutable settings).
class Transform {
 public:
  template <ImageTransform T>
  requires(!std::is_same_v<std::decay_t<T>, Transform>) Transform(T t)
      : impl_(std::make_shared<Model<T>>(std::move(t))) {}

  Shape output_shape(Shape in) const { return impl_->output_shape(in); }
  void apply(ConstImageView in, ImageView out, Rng& rng) const { impl_->apply(in, out, rng); }

 private:
  struct Concept {
    virtual ~Concept() = default;
    virtual Shape output_shape(Shape in) const = 0;
    virtual void apply(ConstImageView in, ImageView out, Rng& rng) const = 0;
  };
  template <class T>
  struct Model final : Concept {
    explicit Model(T t) : t(std::move(t)) {}
    Shape output_shape(Shape in) const override { return t.output_shape(in); }
    void apply(ConstImageView in, ImageView out, Rng& rng) const override { t.apply(in, out, rng); }
    T t;
  };
  std::shared_ptr<const Concept> impl_;
};

class Pipeline {
 public:
  Pipeline() = default;
  template <class... T>
  requires(sizeof...(T) > 0 && (ImageTransform<T> && ...)) explicit Pipeline(T... steps)
      : steps_{Transform(std::move(steps))...} {}

  Pipeline& then(Transform t) {
    steps_.push_back(std::move(t));
    return *this;
  }
  bool empty() const { return steps_.empty(); }
  std::size_t size() const { return steps_.size(); }

  Shape output_shape(Shape in) const {
    detail::check_input("Pipeline", in);
    for (const auto& s : steps_) in = s.output_shape(in);
    return in;
  }

  void apply(ConstImageView in, ImageView out, Rng& rng) const {
    detail::check_output("Pipeline", output_shape(in.shape), out.shape);
    if (steps_.empty()) {
      std::copy(in.data, in.data + in.shape.size(), out.data);
      return;
    }
    // Intermediate images alternate between two buffers; the last step writes to out.
    std::vector<float> buffer[2];
    ConstImageView from = in;
    for (std::size_t i = 0; i + 1 < steps_.size(); ++i) {
      const Shape s = steps_[i].output_shape(from.shape);
      auto& b = buffer[i % 2];
      b.resize(s.size());
      steps_[i].apply(from, {b.data(), s}, rng);
      from = {b.data(), s};
    }
    steps_.back().apply(from, out, rng);
  }

 private:
  std::vector<Transform> steps_;
};

// Applies p to a batch: in is n x in_shape, out is n x p.output_shape(in_shape); sample i draws
// from sample_rng(seed, epoch, indices[i]), indices being the samples' positions in the data
// set. Threaded over samples; the result is the same with any thread count.
inline void apply_batch(const Pipeline& p, const float* in, Shape in_shape, float* out, int n, std::uint64_t seed,
                        int epoch, const std::uint64_t* indices) {
  const Shape out_shape = p.output_shape(in_shape);  // throws here, not inside the parallel loop
#pragma omp parallel for schedule(static)
  for (int i = 0; i < n; ++i) {
    Rng rng = sample_rng(seed, epoch, indices[i]);
    p.apply({in + i * in_shape.size(), in_shape}, {out + i * out_shape.size(), out_shape}, rng);
  }
}

// The pipeline as today's in-place hook (data::Augment: image, channels, height, width, rng),
// for pipelines that keep the size (e.g. RandomCrop{48, 4} instead of RandomCrop{44}).
inline auto in_place(Pipeline p) {
  return [p = std::move(p)](float* image, int channels, int height, int width, Rng& rng) {
    const Shape s{channels, height, width};
    const Shape made = p.output_shape(s);
    if (!(made == s))
      throw std::invalid_argument("fernet::data::augment::in_place: the pipeline turns " + s.str() + " into " +
                                  made.str() + "; an in-place hook must keep the size");
    std::vector<float> copy(image, image + s.size());
    p.apply({copy.data(), s}, {image, s}, rng);
  };
}

}  // namespace fernet::data::augment
