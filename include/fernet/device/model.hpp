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
//   dev.download(net); dopt.download(adam);                   // e.g. before a checkpoint
#include <cmath>
#include <stdexcept>
#include <type_traits>
#include <vector>

#include "../loss.hpp"
#include "../optim/adam.hpp"
#include "../optim/sgd.hpp"
#include "layers.hpp"

namespace fernet::device {

// Which input a loss takes: log-probabilities (NLLLoss) or raw scores (CrossEntropyLoss).
template <class Loss> inline constexpr bool takes_log_probs = std::is_same_v<Loss, NLLLoss>;

struct StepResult {
  double loss_sum = 0;  // summed over the batch (mean = loss_sum / n)
  long correct = 0;     // predictions equal to the label
};

template <class Net>
class DeviceModel {
  using body_t = twin_t<typename Net::body_type>;

 public:
  using network_type = Net;
  using input_shape = typename Net::input_shape;
  using output_shape = typename Net::output_shape;
  static constexpr std::size_t parameter_count = Net::parameter_count;
  static constexpr std::size_t buffer_count = Net::buffer_count;
  static constexpr int classes = static_cast<int>(output_shape::size);

  DeviceModel(Backend& be, const Net& host)
      : be_(be), params_(be, parameter_count), grads_(be, parameter_count), buffers_(be, buffer_count), input_(be),
        output_(be), grad_out_(be), labels_(be), loss_scratch_(be), loss_result_(be, 2), body_(be) {
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

  // Forward over n samples already on the device; returns the device output (n x classes).
  const float* forward_device(const float* x, int n) {
    if (n <= 0) throw std::invalid_argument("fernet: forward() needs a batch of at least one sample");
    output_.resize(static_cast<std::size_t>(n) * output_shape::size);
    batch_ = n;
    input_ptr_ = x;
    ctx_ = Context{training_, hash64(noise_seed_, steps_)};
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

  // One training step: forward, loss, backward, optimiser update. The loss's gradient never
  // leaves the device; only the summed loss and the number of correct predictions come back.
  template <class Loss, class Optimizer>
  StepResult train_step(const float* host_x, const int* host_labels, int n, Optimizer& opt) {
    for (int i = 0; i < n; ++i) fernet::detail::check_label(host_labels[i], classes, i);
    labels_.upload(host_labels, static_cast<std::size_t>(n));
    const float* y = forward(host_x, n);
    grad_out_.resize(static_cast<std::size_t>(n) * classes);
    loss_scratch_.resize(2 * static_cast<std::size_t>(n));
    be_.loss(y, labels_.data(), n, classes, takes_log_probs<Loss>, grad_out_.data(), loss_scratch_.data(),
             loss_result_.data());
    zero_grad();
    backward(grad_out_.data());
    opt.step();
    float result[2];
    loss_result_.download(result);
    return {static_cast<double>(result[0]), std::lround(result[1])};
  }

  Backend& backend() { return be_; }
  float* parameters() { return params_.data(); }
  float* gradients() { return grads_.data(); }
  float* buffers() { return buffers_.data(); }

 private:
  Backend& be_;
  DeviceArray<float> params_, grads_, buffers_, input_, output_, grad_out_;
  DeviceArray<int> labels_;
  DeviceArray<float> loss_scratch_, loss_result_;
  body_t body_;
  Context ctx_{};
  const float* input_ptr_ = nullptr;
  std::uint64_t noise_seed_ = 0, steps_ = 0;
  int batch_ = 0;
  bool training_ = true;
};

// The device form of a CPU optimiser: same options and step count, state on the device.
template <class HostOptimizer> class DeviceOptimizer;

// What both device optimisers hold: the model's parameter and gradient blocks on the device.
template <class HostOptimizer>
class DeviceOptimizerBase {
 public:
  long steps() const { return steps_; }

 protected:
  template <class Net>
  DeviceOptimizerBase(DeviceModel<Net>& m, const HostOptimizer& host)
      : be_(m.backend()), p_(m.parameters()), g_(m.gradients()), count_(Net::parameter_count), o_(host.options()),
        steps_(host.steps()) {}
  Backend& be_;
  float* p_;
  const float* g_;
  std::size_t count_;
  typename HostOptimizer::Options o_;
  long steps_;
};

template <>
class DeviceOptimizer<SGD> : public DeviceOptimizerBase<SGD> {
 public:
  template <class Net>
  DeviceOptimizer(DeviceModel<Net>& m, SGD& host) : DeviceOptimizerBase(m, host), buf_(be_) {
    upload(host);
  }
  void upload(SGD& host) {
    steps_ = host.steps();
    o_.lr = host.lr();
    if (!host.state().empty()) buf_.upload(host.state().data(), host.state().size());
  }
  void download(SGD& host) {
    host.set_steps(steps_);
    if (!host.state().empty()) buf_.download(host.state().data());
  }
  void step() {
    const SgdStep s{o_.lr, o_.momentum, 1.f - o_.dampening, o_.weight_decay, steps_ == 0, o_.nesterov};
    be_.sgd_step(p_, g_, o_.momentum != 0.f ? buf_.data() : nullptr, static_cast<long>(count_), s);
    ++steps_;
  }

 private:
  DeviceArray<float> buf_;  // momentum
};

template <>
class DeviceOptimizer<Adam> : public DeviceOptimizerBase<Adam> {
 public:
  template <class Net>
  DeviceOptimizer(DeviceModel<Net>& m, Adam& host) : DeviceOptimizerBase(m, host), m_(be_), v_(be_) {
    upload(host);
  }
  void upload(Adam& host) {
    steps_ = host.steps();
    o_.lr = host.lr();
    m_.upload(host.first_moment().data(), count_);
    v_.upload(host.second_moment().data(), count_);
  }
  void download(Adam& host) {
    host.set_steps(steps_);
    m_.download(host.first_moment().data());
    v_.download(host.second_moment().data());
  }
  // The CPU Adam's arithmetic: bias corrections in double, the update in float.
  void step() {
    ++steps_;
    const double bc1 = 1.0 - std::pow(static_cast<double>(o_.beta1), steps_);
    const double bc2 = 1.0 - std::pow(static_cast<double>(o_.beta2), steps_);
    const AdamStep s{static_cast<float>(o_.lr / bc1),
                     static_cast<float>(1.0 / std::sqrt(bc2)),
                     o_.beta1,
                     o_.beta2,
                     o_.eps,
                     o_.decoupled ? 0.f : o_.weight_decay,
                     o_.decoupled ? 1.f - o_.lr * o_.weight_decay : 1.f};
    be_.adam_step(p_, g_, m_.data(), v_.data(), static_cast<long>(count_), s);
  }

 private:
  DeviceArray<float> m_, v_;  // first and second moments
};

}  // namespace fernet::device
