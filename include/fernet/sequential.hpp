#pragma once
// Sequential<Input<C,H,W>, Layers...>: a network as a type. It infers every intermediate shape
// at compile time, owns one contiguous block of parameters, one of gradients and one of
// buffers (e.g. batch-norm running statistics), and the activations of the last forward pass.
//
//   using Net = Sequential<Input<1,48,48>, Conv<1,32,3>, ReLU, Pool<2>, Flatten, Linear<...>>;
//   Net net(seed);                          // weights on the heap, initialised from the seed
//   const float* out = net.forward(x, n);   // n samples of Net::input_shape, NCHW
//   net.zero_grad(); net.backward(dout);    // adds to net.gradients()
#include <algorithm>
#include <array>
#include <cstring>
#include <functional>
#include <span>
#include <stdexcept>
#include <string>

#include "chain.hpp"
#include "loss.hpp"
#include "losses/label_smoothing.hpp"
#include "losses/soft_target.hpp"
#include "optim/regularise.hpp"
#include "parallel.hpp"
#include "tensor.hpp"

namespace fernet {

// What a training step does besides forward, loss, backward and update (train_step of the CPU
// network and of device::DeviceModel). The defaults are the plain step, bit for bit.
struct StepOptions {
  float label_smoothing = 0.f;  // eps of loss_row's label smoothing (NLLLoss, CrossEntropyLoss)
  float max_grad_norm = 0.f;    // > 0: clip_grad_norm between backward and the update (CPU only)
  // Data-parallel training (train/distributed.hpp): called right after backward with this
  // process's gradients, which it turns into those of the whole batch across processes (before
  // clipping, so every process clips and steps alike). Empty: a single process.
  std::function<void(std::span<float> gradients)> reduce_gradients;
};
// The losses label smoothing applies to (loss_row's two forms).
template <class Loss>
inline constexpr bool smoothable_loss = std::is_same_v<Loss, NLLLoss> || std::is_same_v<Loss, CrossEntropyLoss>;

template <class InputSpec, class... Layers>
class Sequential {
  using body_spec = Chain<Layers...>;
  using body_t = typename body_spec::template layer<typename InputSpec::shape, CpuExec>;

 public:
  using input_shape = typename InputSpec::shape;
  using output_shape = typename body_t::out_shape;
  static constexpr std::size_t parameter_count = body_t::param_count;
  static constexpr std::size_t buffer_count = body_t::buffer_count;
  static constexpr std::size_t layer_count = sizeof...(Layers);
  static constexpr int classes = static_cast<int>(output_shape::size);
  // infer(): how many leading layers take the batch in slices (of the layers as bound, fusions
  // counting once: bound_layers of them), and the slice's samples.
  static constexpr std::size_t bound_layers = body_t::count;
  static constexpr std::size_t streamed_layers = body_t::streamed;
  static int infer_slice() { return body_t::slice_samples(threads()); }
  // The same layers bound to another execution policy (device/model.hpp runs them on a device).
  template <class Exec>
  using body_on = typename body_spec::template layer<input_shape, Exec>;

  explicit Sequential(std::uint64_t seed = 0)
      : params_(parameter_count), grads_(parameter_count, 0.f), buffers_(buffer_count, 0.f) {
    body_.bind(params_.data(), grads_.data(), buffers_.data());
    reset(seed);
  }
  // Layers hold pointers into the blocks: copying would alias them, moving is fine only
  // because vector storage does not move. Keep it simple: one network, one object.
  Sequential(const Sequential&) = delete;
  Sequential& operator=(const Sequential&) = delete;

  // Re-initialise all parameters and buffers from a seed (also seeds dropout).
  void reset(std::uint64_t seed) {
    Rng rng(seed);
    body_.init(rng);
    noise_seed_ = hash64(seed, 0xD50Full);
    steps_ = 0;
    weights_touched_ = true;
  }

  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  bool training() const { return training_; }

  // Inference with the linear layers' weights rounded to IEEE half precision (kernels/half.hpp):
  // a forward pass of a few images streams half the bytes of the large layers (NetAdam's fc1:
  // 4 MB instead of 8), which is what bounds its latency. Products and sums stay float32;
  // training forwards always use the float32 weights. Off by default: outputs move by the
  // weights' rounding (tests/test_half.cpp bounds it). The half copies are remade at the next
  // inference after anything that may have changed the weights: the mutable parameters(),
  // backward(), reset() or a training step (a span of parameters() kept and written later is
  // not seen: call parameters() again).
  void use_half_linear_weights(bool on) {
    half_linear_ = on;
    weights_touched_ = true;
  }
  bool half_linear_weights() const { return half_linear_; }

  // Forward pass over n samples stored contiguously (n * input_shape::size floats).
  // Returns n * output_shape::size floats, valid until the next forward.
  const float* forward(const float* x, int n) { return run(x, n, training_, false); }

  // Inference without gradients, what evaluation, prediction and deployment run: the outputs of
  // forward() in evaluation mode, bit for bit, whatever train() / eval() say (the half weights
  // when chosen). It keeps nothing for backward(), and so the convolutional layers may take the
  // batch a few samples at a time, each slice's activations still in cache when the next layer
  // reads them (chain.hpp, ChainWalk::infer). Valid until the next forward() or infer().
  const float* infer(const float* x, int n) { return run(x, n, false, true); }

  // The same with xtensor at the boundary: x is (n, C, H, W); the result is an (n, outputs)
  // adaptor over the network's own output buffer (no copy, valid until the next forward;
  // assign it to a Tensor<2> to keep it).
  auto forward(const Tensor<4>& x) {
    check_input(x);
    const std::size_t n = x.shape()[0];
    return output_view(forward(x.data(), static_cast<int>(n)), n);
  }
  auto infer(const Tensor<4>& x) {
    check_input(x);
    const std::size_t n = x.shape()[0];
    return output_view(infer(x.data(), static_cast<int>(n)), n);
  }

  // Backward pass for the last forward: dy holds d(loss)/d(output). Adds to gradients();
  // writes d(loss)/d(input) to dx when it is not null.
  void backward(const float* dy, float* dx = nullptr) {
    if (batch_ == 0) throw std::logic_error("fernet: backward() needs a forward() first (infer() keeps nothing for it)");
    weights_touched_ = true;  // an optimiser step may follow
    body_.backward(input_.data(), output_.data(), dy, dx, batch_, ctx_);
  }

  // dy as an (n, outputs) xtensor for the last forward of n samples.
  void backward(const Tensor<2>& dy) {
    if (dy.shape()[0] != static_cast<std::size_t>(batch_) || dy.shape()[1] != output_shape::size)
      throw std::invalid_argument("fernet: backward() needs a " + std::to_string(batch_) + "x" +
                                  std::to_string(output_shape::size) + " gradient, got " +
                                  std::to_string(dy.shape()[0]) + "x" + std::to_string(dy.shape()[1]));
    backward(dy.data());
  }

  void zero_grad() { std::fill(grads_.begin(), grads_.end(), 0.f); }

  // One training step: forward, loss, backward, optimiser update; the same call as
  // device::DeviceModel::train_step, so a training loop is written once for both.
  template <class Loss, class Optimizer>
  StepResult train_step(const Tensor<4>& x, std::span<const int> labels, Optimizer& opt) {
    check_input(x);
    if (labels.size() != x.shape()[0])
      throw std::invalid_argument("fernet: train_step() got " + std::to_string(x.shape()[0]) + " samples but " +
                                  std::to_string(labels.size()) + " labels");
    return train_step<Loss>(x.data(), labels.data(), static_cast<int>(labels.size()), opt);
  }
  template <class Loss, class Optimizer>
  StepResult train_step(const float* x, const int* labels, int n, Optimizer& opt, const StepOptions& o = {}) {
    step_grad_.resize(static_cast<std::size_t>(n) * classes);
    const float* y = forward(x, n);
    float loss = 0.f;
    if (o.label_smoothing == 0.f) {
      loss = Loss::compute(y, labels, n, classes, step_grad_.data());
    } else {
      if constexpr (smoothable_loss<Loss>)
        loss = smoothed_cross_entropy(y, labels, n, classes, o.label_smoothing, step_grad_.data(),
                                      takes_log_probs<Loss>);
      else
        throw std::invalid_argument("fernet: train_step(): label smoothing needs NLLLoss or CrossEntropyLoss");
    }
    return finish_step(y, labels, n, loss, opt, o);
  }
  // A step against soft targets (n x classes rows, each summing to 1: mixup's blended labels,
  // already smoothed, so o.label_smoothing is not applied again). `labels` only count `correct`
  // (for mixup, each sample's own label, the larger share of its blend).
  template <class Loss, class Optimizer>
  StepResult train_step_soft(const float* x, const float* targets, const int* labels, int n, Optimizer& opt,
                             const StepOptions& o = {}) {
    if constexpr (!smoothable_loss<Loss>) {
      throw std::invalid_argument("fernet: train_step_soft(): soft targets need NLLLoss or CrossEntropyLoss");
    } else {
      step_grad_.resize(static_cast<std::size_t>(n) * classes);
      const float* y = forward(x, n);
      const float loss =
          soft_target_cross_entropy(y, targets, n, classes, step_grad_.data(), takes_log_probs<Loss>);
      return finish_step(y, labels, n, loss, opt, o);
    }
  }

  std::span<float> parameters() {
    weights_touched_ = true;  // the caller may write them
    return params_;
  }
  std::span<const float> parameters() const { return params_; }
  std::span<float> gradients() { return grads_; }
  std::span<const float> gradients() const { return grads_; }
  std::span<float> buffers() { return buffers_; }
  std::span<const float> buffers() const { return buffers_; }

  // The dropout stream: masks of the k-th training forward derive from hash64(noise_seed(), k).
  std::uint64_t noise_seed() const { return noise_seed_; }
  // Position in the dropout stream (checkpoints record it so that a resumed run continues it).
  std::uint64_t noise_step() const { return steps_; }
  void set_noise_step(std::uint64_t s) { steps_ = s; }

  // Where the next batches start in a larger batch split across processes (dist/): dropout masks
  // then follow the sample's place in the whole batch. 0 for a whole batch.
  void set_first_sample(long first) { first_sample_ = first; }

  // Keep dropout masks fixed across forward passes (numeric gradient checks need that).
  void freeze_noise(bool on) { freeze_noise_ = on; }

  // A one-line description of the architecture: checkpoints record it, and loading into a
  // different network names both.
  static std::string signature() {
    std::string s = InputSpec::name();
    ((s += " " + Layers::name()), ...);
    return s;
  }
  static std::string shape_string() { return input_shape::str() + " -> " + output_shape::str(); }

  // A process of a data-parallel run whose share of a batch is empty (fewer samples than
  // processes): no gradient of its own, the others' through the reduction, the same update and
  // dropout position as the processes that had samples (DeviceModel has the same call).
  template <class Optimizer>
  void step_without_samples(Optimizer& opt, const StepOptions& o) {
    zero_grad();
    update(opt, o);
    ++steps_;  // as a training forward would
  }

 private:
  // Both steps after the loss: the correct count, backward, clipping, the update.
  template <class Optimizer>
  StepResult finish_step(const float* y, const int* labels, int n, float loss, Optimizer& opt, const StepOptions& o) {
    StepResult r{static_cast<double>(loss) * n, 0};
    for (int i = 0; i < n; ++i)
      r.correct += argmax_row(y + static_cast<std::ptrdiff_t>(i) * classes, classes) == labels[i];
    zero_grad();
    backward(step_grad_.data());
    update(opt, o);
    return r;
  }
  // What follows backward: the reduction across processes, clipping, the optimiser's step.
  template <class Optimizer>
  void update(Optimizer& opt, const StepOptions& o) {
    if (o.reduce_gradients) o.reduce_gradients(gradients());
    if (o.max_grad_norm > 0.f) clip_grad_norm(gradients(), o.max_grad_norm);
    opt.step();
    weights_touched_ = true;
  }

  // forward() (training: as train() / eval() say) and infer() (training false, streamed).
  const float* run(const float* x, int n, bool training, bool streamed) {
    if (n <= 0)
      throw std::invalid_argument(std::string("fernet: ") + (streamed ? "infer" : "forward") +
                                  "() needs a batch of at least one sample");
    const std::size_t in_total = static_cast<std::size_t>(n) * input_shape::size;
    input_.assign(x, x + in_total);
    output_.resize(static_cast<std::size_t>(n) * output_shape::size);
    if (half_linear_ && !training && weights_touched_) {
      ++half_version_;  // the layers remake their half copies
      weights_touched_ = false;
    }
    ctx_ = Context{training, hash64(noise_seed_, steps_), first_sample_, half_linear_ ? half_version_ : 0};
    if (training && !freeze_noise_) ++steps_;
    batch_ = streamed ? 0 : n;  // backward() needs what forward() keeps
    if (streamed) body_.infer(input_.data(), output_.data(), n, ctx_);
    else body_.forward(input_.data(), output_.data(), n, ctx_);
    return output_.data();
  }
  static auto output_view(const float* y, std::size_t n) {
    return xt::adapt(y, n * output_shape::size, xt::no_ownership(), std::array<std::size_t, 2>{n, output_shape::size});
  }

  template <class T>
  static void check_input(const T& x) {
    const auto& s = x.shape();
    if (s[1] != input_shape::channels || s[2] != input_shape::height || s[3] != input_shape::width)
      throw std::invalid_argument("fernet: input tensor is " + std::to_string(s[1]) + "x" + std::to_string(s[2]) + "x" +
                                  std::to_string(s[3]) + " per sample, the network expects " + input_shape::str());
    if (s[0] == 0) throw std::invalid_argument("fernet: empty input batch");
  }

  AlignedFloats params_, grads_, buffers_;
  AlignedFloats input_, output_, step_grad_;
  body_t body_;
  Context ctx_{};
  std::uint64_t noise_seed_ = 0, steps_ = 0;
  long first_sample_ = 0;
  int batch_ = 0;
  bool training_ = true;
  bool freeze_noise_ = false;
  bool half_linear_ = false, weights_touched_ = true;
  std::uint64_t half_version_ = 0;
};

}  // namespace fernet
