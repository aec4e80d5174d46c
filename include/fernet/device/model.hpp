#pragma once
// DeviceModel<Net>: a compile-time network (a Sequential) living on a device Backend.
// Parameters, gradients, buffers, activations and optimiser state stay on the device; a
// training step uploads the batch and its labels and downloads two numbers (summed loss and
// correct predictions). upload()/download() move the whole model between the host network
// and the device in one copy per block, so checkpoints and evaluation code are shared.
//
//   auto be = fernet::device::make_backend("cuda");
//   fernet::device::DeviceModel<NetAdam> dev(*be, net);      // copies net's weights up
//   fernet::device::DeviceOptimizer<Adam> dopt(dev, adam);   // and the optimiser's state
//   auto r = dev.train_step<NLLLoss>(images, labels, n, dopt);
//   dev.download(net); dopt.download();                        // e.g. before a checkpoint
#include <cmath>
#include <functional>
#include <span>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "../layers/all.hpp"
#include "../loss.hpp"
#include "../optim/adam.hpp"
#include "../optim/sgd.hpp"
#include "../sequential.hpp"
#include "execution.hpp"

namespace fernet::device {

template <class Net>
class DeviceModel {
  using body_t = typename Net::template body_on<DeviceExec>;

 public:
  using network_type = Net;
  using input_shape = typename Net::input_shape;
  using output_shape = typename Net::output_shape;
  static constexpr std::size_t parameter_count = Net::parameter_count;
  static constexpr std::size_t buffer_count = Net::buffer_count;
  static constexpr int classes = static_cast<int>(output_shape::size);

  DeviceModel(Backend& be, const Net& host)
      : be_(be),
        params_(be, parameter_count),
        grads_(be, parameter_count),
        buffers_(be, buffer_count),
        input_(be),
        output_(be),
        grad_out_(be),
        labels_(be),
        loss_scratch_(be),
        loss_result_(be, 2),
        body_(DeviceExec{&be}) {
    body_.bind(params_.data(), grads_.data(), buffers_.data());
    upload(host);
    grads_.zero();
  }
  DeviceModel(const DeviceModel&) = delete;
  DeviceModel& operator=(const DeviceModel&) = delete;

  // Host network -> device: parameters, buffers, training mode and dropout position.
  void upload(const Net& host) {
    params_.upload(host.parameters().data(), parameter_count);
    buffers_.upload(host.buffers().data(), buffer_count);
    noise_seed_ = host.noise_seed();
    steps_ = host.noise_step();
    training_ = host.training();
  }
  // Host network's buffers (batch-norm running statistics) -> device.
  void upload_buffers(const Net& host) { buffers_.upload(host.buffers().data(), buffer_count); }
  // Device -> host network (parameters, buffers, dropout position); gradients with grads=true.
  void download(Net& host, bool grads = false) {
    params_.download(host.parameters().data());
    buffers_.download(host.buffers().data());
    if (grads) grads_.download(host.gradients().data());
    host.set_noise_step(steps_);
  }

  void train(bool on = true) { training_ = on; }
  void eval() { training_ = false; }
  bool training() const { return training_; }
  std::uint64_t noise_step() const { return steps_; }
  // This batch's first sample in the whole batch, when the batch is split across processes:
  // the dropout masks follow it (Sequential::set_first_sample).
  void set_first_sample(long first) { first_sample_ = first; }

  // Forward over n samples already on the device; returns the device output (n x classes).
  const float* forward_device(const float* x, int n) {
    if (n <= 0) throw std::invalid_argument("fernet: forward() needs a batch of at least one sample");
    output_.resize(static_cast<std::size_t>(n) * output_shape::size);
    batch_ = n;
    input_ptr_ = x;
    ctx_ = Context{training_, hash64(noise_seed_, steps_), first_sample_};
    if (training_) ++steps_;
    body_.forward(x, output_.data(), n, ctx_);
    return output_.data();
  }
  // Uploads n host samples, then forward_device.
  const float* forward(const float* host_x, int n) {
    input_.upload(host_x, static_cast<std::size_t>(n) * input_shape::size);
    return forward_device(input_.data(), n);
  }
  // Backward for the last forward; dy and dx (optional) are device pointers.
  void backward(const float* dy, float* dx = nullptr) {
    if (batch_ == 0) throw std::logic_error("fernet: backward() called before forward()");
    body_.backward(input_ptr_, output_.data(), dy, dx, batch_, ctx_);
  }
  void zero_grad() { grads_.zero(); }

  // Forward on n host samples, outputs copied back to host_out (n x classes floats).
  void predict(const float* host_x, int n, float* host_out) {
    const float* y = forward(host_x, n);
    be_.download(host_out, y, sizeof(float) * n * output_shape::size);
  }

  // One training step: forward, loss, backward, optimiser update (the same call as
  // Sequential::train_step). The loss's gradient never leaves the device; only the summed loss
  // and the number of correct predictions come back.
  template <class Loss, class Optimizer>
  StepResult train_step(const float* host_x, const int* host_labels, int n, Optimizer& opt,
                        const StepOptions& o = {}) {
    if (o.max_grad_norm > 0.f)
      throw std::invalid_argument("fernet::device::DeviceModel::train_step: gradient clipping (max_grad_norm " +
                                  std::to_string(o.max_grad_norm) + ") runs on the CPU only; it is not implemented on "
                                  "device backend '" + be_.name() + "'");
    if (o.label_smoothing != 0.f && !smoothable_loss<Loss>)
      throw std::invalid_argument("fernet::device::DeviceModel::train_step: label smoothing needs NLLLoss or "
                                  "CrossEntropyLoss");
    if (!(o.label_smoothing >= 0.f && o.label_smoothing <= 1.f))
      throw std::invalid_argument("fernet::device::DeviceModel::train_step: label smoothing must be in [0, 1], got " +
                                  std::to_string(o.label_smoothing));
    for (int i = 0; i < n; ++i) fernet::detail::check_label(host_labels[i], classes, i);
    labels_.upload(host_labels, static_cast<std::size_t>(n));
    const float* y = forward(host_x, n);
    grad_out_.resize(static_cast<std::size_t>(n) * classes);
    loss_scratch_.resize(2 * static_cast<std::size_t>(n));
    be_.loss(y, labels_.data(), n, classes, takes_log_probs<Loss>, o.label_smoothing, grad_out_.data(), loss_scratch_.data(),
             loss_result_.data());
    zero_grad();
    backward(grad_out_.data());
    if (o.reduce_gradients) reduce_gradients(o.reduce_gradients);
    opt.step();
    float result[2];
    loss_result_.download(result);
    return {static_cast<double>(result[0]), std::lround(result[1])};
  }

  // A process of a data-parallel run whose share of a batch is empty: no gradient of its own,
  // the others' through the reduction, the same optimiser step and dropout position.
  template <class Optimizer>
  void step_without_samples(Optimizer& opt, const StepOptions& o) {
    zero_grad();
    if (o.reduce_gradients) reduce_gradients(o.reduce_gradients);
    opt.step();
    ++steps_;  // as a training forward would
  }

  Backend& backend() { return be_; }
  float* parameters() { return params_.data(); }
  float* gradients() { return grads_.data(); }
  float* buffers() { return buffers_.data(); }

 private:
  // The reduction (an MPI all-reduce) works on host memory: Debian's Open MPI cannot read device
  // memory, so the gradients go down, are reduced, and come back up (one copy each way).
  void reduce_gradients(const std::function<void(std::span<float>)>& reduce) {
    host_grads_.resize(parameter_count);
    grads_.download(host_grads_.data());
    reduce(host_grads_);
    grads_.upload(host_grads_.data(), parameter_count);
  }

  Backend& be_;
  DeviceArray<float> params_, grads_, buffers_, input_, output_, grad_out_;
  DeviceArray<int> labels_;
  DeviceArray<float> loss_scratch_, loss_result_;
  std::vector<float> host_grads_;  // the gradients on their way through the host (reduce_gradients)
  body_t body_;
  Context ctx_{};
  const float* input_ptr_ = nullptr;
  std::uint64_t noise_seed_ = 0, steps_ = 0;
  long first_sample_ = 0;
  int batch_ = 0;
  bool training_ = true;
};

// The device form of a CPU optimiser: its state lives on the device, its options and step
// count stay in the host optimiser, which it reads at every step (so a learning rate set on the
// host optimiser between epochs takes effect at once, as on the CPU).
template <class HostOptimizer>
class DeviceOptimizer;

template <class HostOptimizer>
class DeviceOptimizerBase {
 public:
  long steps() const { return host_.steps(); }

 protected:
  template <class Net>
  DeviceOptimizerBase(DeviceModel<Net>& m, HostOptimizer& host)
      : be_(m.backend()), p_(m.parameters()), g_(m.gradients()), count_(Net::parameter_count), host_(host) {}
  Backend& be_;
  float* p_;
  const float* g_;
  std::size_t count_;
  HostOptimizer& host_;
};

template <>
class DeviceOptimizer<SGD> : public DeviceOptimizerBase<SGD> {
 public:
  template <class Net>
  DeviceOptimizer(DeviceModel<Net>& m, SGD& host) : DeviceOptimizerBase(m, host), buf_(be_) {
    upload();
  }
  // Host state -> device (after the host optimiser was restored from a checkpoint).
  void upload() {
    if (!host_.state().empty()) buf_.upload(host_.state().data(), host_.state().size());
  }
  // Device state -> host (before a checkpoint).
  void download() {
    if (!host_.state().empty()) buf_.download(host_.state().data());
  }
  void step() {
    const SGD::Options& o = host_.options();
    be_.sgd_step(p_, g_, o.momentum != 0.f ? buf_.data() : nullptr, static_cast<long>(count_), host_.step_rule());
    host_.set_steps(host_.steps() + 1);
  }

 private:
  DeviceArray<float> buf_;  // momentum
};

template <>
class DeviceOptimizer<Adam> : public DeviceOptimizerBase<Adam> {
 public:
  template <class Net>
  DeviceOptimizer(DeviceModel<Net>& m, Adam& host) : DeviceOptimizerBase(m, host), m_(be_), v_(be_) {
    upload();
  }
  void upload() {
    m_.upload(host_.first_moment().data(), count_);
    v_.upload(host_.second_moment().data(), count_);
  }
  void download() {
    m_.download(host_.first_moment().data());
    v_.download(host_.second_moment().data());
  }
  // The CPU Adam's arithmetic: the same step constants (Adam::next_step_rule).
  void step() { be_.adam_step(p_, g_, m_.data(), v_.data(), static_cast<long>(count_), host_.next_step_rule()); }

 private:
  DeviceArray<float> m_, v_;  // first and second moments
};

}  // namespace fernet::device
