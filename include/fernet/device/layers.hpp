#pragma once
// Device twins of the CPU layers. twin_t<HostLayer> is the layer that does on a device Backend
// what HostLayer does on the CPU, with the same compile-time shapes, the same parameter and
// buffer layout (so one copy moves a whole model) and the same dropout masks. A network's
// device form (device/model.hpp) is the twin of its bound chain.
#include <algorithm>
#include <cmath>
#include <tuple>
#include <utility>

#include "../layers/all.hpp"
#include "../sequential.hpp"
#include "backend.hpp"

namespace fernet::device {

template <class HostLayer>
struct twin {
  static_assert(fernet::always_false<HostLayer>, "fernet: this layer has no device implementation yet");
};
template <class HostLayer>
using twin_t = typename twin<HostLayer>::type;

// What every twin shares: the shapes and block sizes of its host layer, and the backend.
template <class Host>
struct TwinBase {
  using host_type = Host;
  using in_shape = typename Host::in_shape;
  using out_shape = typename Host::out_shape;
  static constexpr std::size_t param_count = Host::param_count, buffer_count = Host::buffer_count;
  explicit TwinBase(Backend& be) : be_(&be) {}
  void bind(float*, float*, float*) {}

 protected:
  static long total_in(int n) { return static_cast<long>(n) * in_shape::size; }
  static long total_out(int n) { return static_cast<long>(n) * out_shape::size; }
  Backend* be_;
};

// ---- convolution: im2col + GEMM over chunks of samples, as the CPU layer ------------------
template <class Host, int Cout, bool HasBias>
class ConvTwin : public TwinBase<Host> {
  using In = typename Host::in_shape;
  using Out = typename Host::out_shape;
  static constexpr long P = static_cast<long>(Out::height) * Out::width;

 public:
  ConvTwin(Backend& be, ConvDims d) : TwinBase<Host>(be), d_(d), col_(be), out_(be) {}
  void bind(float* p, float* g, float*) { w_ = p; dw_ = g; }

  void forward(const float* x, float* y, int n, const Context&) {
    const long kk = d_.rows();
    for (int s0 = 0; s0 < n; s0 += chunk()) {
      const int cs = std::min(chunk(), n - s0);
      const int ld = size_buffers(cs);
      this->be_->im2col(x + s0 * static_cast<long>(In::size), d_, cs, col_.data());
      this->be_->gemm(false, false, Cout, ld, static_cast<int>(kk), 1.f, w_, static_cast<int>(kk), col_.data(), ld,
                      0.f, out_.data(), ld);
      this->be_->channels_to_samples(out_.data(), HasBias ? w_ + weight_count() : nullptr, cs, Cout, P,
                                     y + s0 * static_cast<long>(Out::size));
    }
  }

  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
    const long kk = d_.rows();
    for (int s0 = 0; s0 < n; s0 += chunk()) {
      const int cs = std::min(chunk(), n - s0);
      const int ld = size_buffers(cs);
      this->be_->samples_to_channels(dy + s0 * static_cast<long>(Out::size), cs, Cout, P, out_.data());
      if (HasBias) this->be_->accumulate_row_sums(out_.data(), Cout, ld, dw_ + weight_count());
      this->be_->im2col(x + s0 * static_cast<long>(In::size), d_, cs, col_.data());
      this->be_->gemm(false, true, Cout, static_cast<int>(kk), ld, 1.f, out_.data(), ld, col_.data(), ld, 1.f, dw_,
                      static_cast<int>(kk));
      if (!dx) continue;
      this->be_->gemm(true, false, static_cast<int>(kk), ld, Cout, 1.f, w_, static_cast<int>(kk), out_.data(), ld, 0.f,
                      col_.data(), ld);
      this->be_->col2im(col_.data(), d_, cs, dx + s0 * static_cast<long>(In::size));
    }
  }

 private:
  long weight_count() const { return Cout * d_.rows(); }
  // Buffers for a chunk of cs samples (im2col and the product); returns the matrices' width.
  int size_buffers(int cs) {
    const int ld = static_cast<int>(cs * P);
    col_.resize(static_cast<std::size_t>(d_.rows()) * ld);
    out_.resize(static_cast<std::size_t>(Cout) * ld);
    return ld;
  }
  // Samples per chunk: the im2col matrix stays under 2^26 floats (256 MiB).
  int chunk() const { return static_cast<int>(std::max<long>(1, (1l << 26) / (d_.rows() * P))); }
  ConvDims d_;
  float* w_ = nullptr;
  float* dw_ = nullptr;
  DeviceArray<float> col_, out_;
};

template <class In, int Cin, int Cout, int K, int S, int PT, int PL, int PB, int PR, bool HasBias, class Init>
struct twin<fernet::detail::ConvLayer<In, Cin, Cout, K, S, PT, PL, PB, PR, HasBias, Init>> {
  using host = fernet::detail::ConvLayer<In, Cin, Cout, K, S, PT, PL, PB, PR, HasBias, Init>;
  struct type : ConvTwin<host, Cout, HasBias> {
    explicit type(Backend& be)
        : ConvTwin<host, Cout, HasBias>(be, ConvDims{Cin, In::height, In::width, K, K, S, PT, PL,
                                                     host::out_shape::height, host::out_shape::width}) {}
  };
};

// ---- max pooling (optionally with the ReLU that precedes it, applied after: they commute) ---
template <class Host, bool WithRelu>
class PoolTwin : public TwinBase<Host> {
  using In = typename Host::in_shape;

 public:
  PoolTwin(Backend& be, PoolDims d) : TwinBase<Host>(be), d_(d), argmax_(be), grad_(be) {}
  void forward(const float* x, float* y, int n, const Context&) {
    argmax_.resize(static_cast<std::size_t>(this->total_out(n)));
    this->be_->maxpool_forward(x, d_, static_cast<long>(n) * In::channels, y, argmax_.data());
    if (WithRelu) this->be_->relu_forward(y, y, this->total_out(n));
  }
  void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
    if (!dx) return;
    const float* g = dy;
    if (WithRelu) {
      grad_.resize(static_cast<std::size_t>(this->total_out(n)));
      this->be_->relu_backward(y, dy, grad_.data(), this->total_out(n));
      g = grad_.data();
    }
    this->be_->maxpool_backward(g, argmax_.data(), d_, static_cast<long>(n) * In::channels, dx);
  }

 private:
  PoolDims d_;
  DeviceArray<int> argmax_;
  DeviceArray<float> grad_;
};

template <class In, int K, int S, int PT, int PL, int PB, int PR>
struct twin<fernet::detail::MaxPoolLayer<In, K, S, PT, PL, PB, PR>> {
  using host = fernet::detail::MaxPoolLayer<In, K, S, PT, PL, PB, PR>;
  static constexpr PoolDims dims{In::height, In::width, K, S, PT, PL, host::out_shape::height, host::out_shape::width};
  struct type : PoolTwin<host, false> {
    explicit type(Backend& be) : PoolTwin<host, false>(be, dims) {}
  };
};
template <class Pool>
struct twin<fernet::detail::ReluThenPool<Pool>> {
  using host = fernet::detail::ReluThenPool<Pool>;
  struct type : PoolTwin<host, true> {
    explicit type(Backend& be) : PoolTwin<host, true>(be, twin<Pool>::dims) {}
  };
};

// ---- linear -------------------------------------------------------------------------------
template <class In, int I, int O, bool HasBias, class Init>
struct twin<fernet::detail::LinearLayer<In, I, O, HasBias, Init>> {
  struct type : TwinBase<fernet::detail::LinearLayer<In, I, O, HasBias, Init>> {
    using TwinBase<fernet::detail::LinearLayer<In, I, O, HasBias, Init>>::TwinBase;
    static constexpr long weight_count = static_cast<long>(I) * O;
    void bind(float* p, float* g, float*) { w_ = p; dw_ = g; }
    void forward(const float* x, float* y, int n, const Context&) {
      this->be_->gemm(false, true, n, O, I, 1.f, x, I, w_, I, 0.f, y, O);
      if (HasBias) this->be_->add_row_bias(y, w_ + weight_count, n, O);
    }
    void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context&) {
      this->be_->gemm(true, false, O, I, n, 1.f, dy, O, x, I, 1.f, dw_, I);
      if (HasBias) this->be_->accumulate_column_sums(dy, n, O, dw_ + weight_count);
      if (dx) this->be_->gemm(false, false, n, I, O, 1.f, dy, O, w_, I, 0.f, dx, I);
    }
    float* w_ = nullptr;
    float* dw_ = nullptr;
  };
};

// ---- element-wise and shape-only layers ---------------------------------------------------
template <class In>
struct twin<fernet::detail::ReluLayer<In>> {
  struct type : TwinBase<fernet::detail::ReluLayer<In>> {
    using TwinBase<fernet::detail::ReluLayer<In>>::TwinBase;
    void forward(const float* x, float* y, int n, const Context&) { this->be_->relu_forward(x, y, this->total_in(n)); }
    void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
      if (dx) this->be_->relu_backward(y, dy, dx, this->total_in(n));
    }
  };
};

template <class In, class Out>
struct twin<fernet::detail::CopyLayer<In, Out>> {
  struct type : TwinBase<fernet::detail::CopyLayer<In, Out>> {
    using TwinBase<fernet::detail::CopyLayer<In, Out>>::TwinBase;
    void forward(const float* x, float* y, int n, const Context&) {
      this->be_->copy(y, x, sizeof(float) * this->total_in(n));
    }
    void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
      if (dx) this->be_->copy(dx, dy, sizeof(float) * this->total_in(n));
    }
  };
};

template <class In, float P>
struct twin<fernet::detail::DropoutLayer<In, P>> {
  struct type : TwinBase<fernet::detail::DropoutLayer<In, P>> {
    using TwinBase<fernet::detail::DropoutLayer<In, P>>::TwinBase;
    static constexpr float scale = 1.f / (1.f - P);
    void forward(const float* x, float* y, int n, const Context& ctx) {
      if (!ctx.training || P == 0.f)
        this->be_->copy(y, x, sizeof(float) * this->total_in(n));
      else
        this->be_->dropout_forward(x, y, this->total_in(n), ctx.noise_seed, fernet::detail::dropout_threshold<P>, scale);
    }
    // The mask is recomputed from (seed, index) rather than stored.
    void backward(const float*, const float*, const float* dy, float* dx, int n, const Context& ctx) {
      if (!dx) return;
      if (!ctx.training || P == 0.f)
        this->be_->copy(dx, dy, sizeof(float) * this->total_in(n));
      else
        this->be_->dropout_backward(dy, dx, this->total_in(n), ctx.noise_seed, fernet::detail::dropout_threshold<P>,
                                    scale);
    }
  };
};

template <class In>
struct twin<fernet::detail::LogSoftmaxLayer<In>> {
  struct type : TwinBase<fernet::detail::LogSoftmaxLayer<In>> {
    using TwinBase<fernet::detail::LogSoftmaxLayer<In>>::TwinBase;
    static constexpr int k = static_cast<int>(In::size);
    void forward(const float* x, float* y, int n, const Context&) { this->be_->log_softmax_forward(x, y, n, k); }
    void backward(const float*, const float* y, const float* dy, float* dx, int n, const Context&) {
      if (dx) this->be_->log_softmax_backward(y, dy, dx, n, k);
    }
  };
};

template <class In>
struct twin<fernet::detail::GlobalAvgPoolLayer<In>> {
  struct type : TwinBase<fernet::detail::GlobalAvgPoolLayer<In>> {
    using TwinBase<fernet::detail::GlobalAvgPoolLayer<In>>::TwinBase;
    static constexpr long plane = static_cast<long>(In::height) * In::width;
    void forward(const float* x, float* y, int n, const Context&) {
      this->be_->global_avg_forward(x, static_cast<long>(n) * In::channels, plane, y);
    }
    void backward(const float*, const float*, const float* dy, float* dx, int n, const Context&) {
      if (dx) this->be_->global_avg_backward(dy, static_cast<long>(n) * In::channels, plane, dx);
    }
  };
};

// ---- batch norm ------------------------------------------------------------------------------
template <class In, int C, int MomentumPermille, int EpsExp10>
struct twin<fernet::detail::BatchNormLayer<In, C, MomentumPermille, EpsExp10>> {
  struct type : TwinBase<fernet::detail::BatchNormLayer<In, C, MomentumPermille, EpsExp10>> {
    static constexpr long plane = static_cast<long>(In::height) * In::width;
    explicit type(Backend& be)
        : TwinBase<fernet::detail::BatchNormLayer<In, C, MomentumPermille, EpsExp10>>(be),
          mean_(be, C), invstd_(be, C), sums_(be, 2 * C) {}
    void bind(float* p, float* g, float* b) { p_ = p; g_ = g; b_ = b; }
    void forward(const float* x, float* y, int n, const Context& ctx) {
      this->be_->batchnorm_statistics(x, n, C, plane, ctx.training, MomentumPermille / 1000.0,
                                      std::pow(10.0, EpsExp10), b_, mean_.data(), invstd_.data());
      this->be_->batchnorm_apply(x, n, C, plane, p_, mean_.data(), invstd_.data(), y);
    }
    void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context& ctx) {
      this->be_->batchnorm_backward(x, dy, n, C, plane, p_, mean_.data(), invstd_.data(), ctx.training, g_,
                                    sums_.data(), dx);
    }
    float* p_ = nullptr;
    float* g_ = nullptr;
    float* b_ = nullptr;
    DeviceArray<float> mean_, invstd_, sums_;
  };
};

// ---- residual blocks -------------------------------------------------------------------------
template <class In, class Body, class Short>
struct twin<fernet::detail::ResidualLayer<In, Body, Short>> {
  using host = fernet::detail::ResidualLayer<In, Body, Short>;
  using body_t = twin_t<typename host::body_t>;
  using short_t = twin_t<typename host::short_t>;
  struct type : TwinBase<host> {
    explicit type(Backend& be)
        : TwinBase<host>(be), body_(be), short_(be), body_out_(be), short_out_(be), short_dx_(be) {}
    void bind(float* p, float* g, float* b) {
      body_.bind(p, g, b);
      short_.bind(p ? p + body_t::param_count : nullptr, g ? g + body_t::param_count : nullptr,
                  b ? b + body_t::buffer_count : nullptr);
    }
    void forward(const float* x, float* y, int n, const Context& ctx) {
      const long total = this->total_out(n);
      body_out_.resize(total);
      body_.forward(x, body_out_.data(), n, ctx.child(0));
      if constexpr (host::identity) {
        this->be_->add(body_out_.data(), x, y, total);
      } else {
        short_out_.resize(total);
        short_.forward(x, short_out_.data(), n, ctx.child(1));
        this->be_->add(body_out_.data(), short_out_.data(), y, total);
      }
    }
    void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context& ctx) {
      const long in_total = this->total_in(n);
      if constexpr (host::identity) {
        body_.backward(x, body_out_.data(), dy, dx, n, ctx.child(0));
        if (dx) this->be_->add_inplace(dx, dy, in_total);
      } else {
        if (dx) short_dx_.resize(in_total);
        body_.backward(x, body_out_.data(), dy, dx, n, ctx.child(0));
        short_.backward(x, short_out_.data(), dy, dx ? short_dx_.data() : nullptr, n, ctx.child(1));
        if (dx) this->be_->add_inplace(dx, short_dx_.data(), in_total);
      }
    }
    body_t body_;
    short_t short_;
    DeviceArray<float> body_out_, short_out_, short_dx_;
  };
};

// ---- chains: the CPU chain's walk (fernet::detail::ChainWalk), activations on the device ----
template <class... Impls>
struct twin<fernet::detail::chain_impl<fernet::detail::type_list<Impls...>>> {
  using host = fernet::detail::chain_impl<fernet::detail::type_list<Impls...>>;
  template <class T>
  static Backend& same(Backend& be) { return be; }

  struct type : TwinBase<host> {
    explicit type(Backend& be) : TwinBase<host>(be), walk_(same<Impls>(be)...) {
      for (auto& a : walk_.acts) a.attach(be);
      for (auto& g : walk_.grads) g.attach(be);
    }
    void bind(float* p, float* g, float* b) { host::bind_layers(walk_.layers, p, g, b); }
    void forward(const float* x, float* y, int n, const Context& ctx) { walk_.forward(x, y, n, ctx); }
    void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context& ctx) {
      walk_.backward(x, y, dy, dx, n, ctx);
    }

   private:
    fernet::detail::ChainWalk<std::tuple<twin_t<Impls>...>, DeviceArray<float>> walk_;
  };
};

}  // namespace fernet::device
