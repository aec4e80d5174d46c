#pragma once
// Fusions: adjacent layers of a Sequential list that run as one layer, with outputs and
// gradients exactly those of the separate layers. They are found while the list is bound
// (a specialisation of detail::bind_chain), so users write the plain layers.
//
//   ReLU, Pool<...>  ->  ReluThenPool: max and ReLU commute, so pooling first applies the ReLU
//   to a quarter of the values and never writes the full-size ReLU output (NetAdam training
//   +10-25%, TF CNN +13-19% on the CPU; benchmarks/NOTES.md).
//   Conv<1,C,K>, ReLU, Pool<2>  ->  ConvReluPool (CPU only): the one-channel convolution, the
//   pooling and the ReLU in one pass (kernels/conv_relu_pool.hpp), so that the convolution's
//   full-size output is not written either (NetAdam's first layers).
//
// A fusion takes the chain positions (chain.hpp, positions_of) of the bound layers it stands
// for on the devices, where it is not made, so that dropout masks do not depend on it.
#include <type_traits>
#include <vector>

#include "../chain.hpp"
#include "../kernels/conv_relu_pool.hpp"
#include "conv.hpp"
#include "pool.hpp"
#include "relu.hpp"

namespace fernet {

namespace detail {

template <class L>
inline constexpr bool is_max_pool = false;
template <int K, int S, int P>
inline constexpr bool is_max_pool<Pool<K, S, P>> = true;
template <int K, int S>
inline constexpr bool is_max_pool<PoolSame<K, S>> = true;

template <class PoolImpl>
struct ReluThenPool : PoolImpl {
  using exec_type = typename PoolImpl::exec_type;
  explicit ReluThenPool(const exec_type& exec = {}) : PoolImpl(exec), grad_(this->template make_array<float>()) {}

  void forward(const float* x, float* y, int n, const Context& ctx) {
    PoolImpl::forward(x, y, n, ctx);
    this->ops().relu_forward(y, y, this->total_out(n));
  }
  void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context& ctx) {
    if (!dx) return;
    const long total = this->total_out(n);
    grad_.resize(static_cast<std::size_t>(total));
    this->ops().relu_backward(y, dy, grad_.data(), total);
    PoolImpl::backward(x, y, grad_.data(), dx, n, ctx);
  }

 private:
  typename exec_type::template array<float> grad_;
};

template <std::size_t I, class InShape, class Exec, class P, class... Rest>
requires(is_max_pool<P> &&
         !std::is_same_v<InShape, poisoned_shape>) struct bind_chain<I, InShape, Exec, ReLU, P, Rest...> {
  using bound = ReluThenPool<typename P::template layer<InShape, Exec>>;
  using next = bind_chain<I + 2, typename bound::out_shape, Exec, Rest...>;
  using impls = typename prepend<bound, typename next::impls>::type;
  using out = typename next::out;
};

// A convolution layer bound on the CPU that the fused pass can run: one input channel, stride 1,
// no padding (kernels::direct_conv_shape), followed by a plain 2x2/2 pooling of its output.
template <class Conv, class PoolImpl>
concept direct_conv_then_pool2x2 = requires {
  Conv::geometry;
  Conv::weight_count;
  PoolImpl::geometry;
} && kernels::direct_conv_relu_pool_shape(Conv::geometry, PoolImpl::geometry);

template <class ConvImpl, class PoolImpl>
struct ConvReluPool : ConvImpl {
  using out_shape = typename PoolImpl::out_shape;
  static constexpr std::size_t positions = 2;  // the convolution and ReluThenPool
  static constexpr int Cout = ConvImpl::out_shape::channels;
  static constexpr bool has_bias = ConvImpl::param_count > ConvImpl::weight_count;

  explicit ConvReluPool(const CpuExec& exec = {}) : ConvImpl(exec), pool_(exec) {}

  void forward(const float* x, float* y, int n, const Context& ctx) {
    fused_ = simd_enabled() && kernels::direct_conv_relu_pool_forward<ConvImpl::geometry, PoolImpl::geometry>(
                                   x, this->w_, has_bias ? this->w_ + ConvImpl::weight_count : nullptr, y,
                                   pool_.argmax_for(n), n, Cout);
    if (fused_) return;
    // The layers apart (no SIMD, or rows narrower than a vector): the convolution's output kept.
    conv_out_.resize(static_cast<std::size_t>(n) * ConvImpl::out_shape::size);
    ConvImpl::forward(x, conv_out_.data(), n, ctx);
    pool_.forward(conv_out_.data(), y, n, ctx);
  }
  void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context& ctx) {
    // As a network's first layer (no input gradient): the parameter gradients straight from the
    // pooled gradient (kernels/conv_relu_pool.hpp), without the full-size gradient planes.
    if (fused_ && !dx && simd_enabled() &&
        kernels::direct_conv_relu_pool_backward<ConvImpl::geometry, PoolImpl::geometry>(
            x, y, dy, pool_.argmax(), this->dw_, has_bias ? this->dw_ + ConvImpl::weight_count : nullptr, n, Cout))
      return;
    // Otherwise the layers' own backward passes; neither reads the convolution's output, so the
    // fused forward's missing one is not missed.
    conv_grad_.resize(static_cast<std::size_t>(n) * ConvImpl::out_shape::size);
    pool_.backward(fused_ ? nullptr : conv_out_.data(), y, dy, conv_grad_.data(), n, ctx);
    ConvImpl::backward(x, fused_ ? nullptr : conv_out_.data(), conv_grad_.data(), dx, n, ctx);
  }

 private:
  ReluThenPool<PoolImpl> pool_;
  std::vector<float> conv_out_, conv_grad_;
  bool fused_ = false;
};

template <std::size_t I, class InShape, class C, class P, class... Rest>
requires(!std::is_same_v<InShape, poisoned_shape> && is_max_pool<P> && C::template accepts<InShape> &&
         direct_conv_then_pool2x2<typename C::template layer<InShape, CpuExec>,
                                  typename P::template layer<
                                      typename C::template layer<InShape, CpuExec>::out_shape, CpuExec>>)
struct bind_chain<I, InShape, CpuExec, C, ReLU, P, Rest...> {
  using conv = typename C::template layer<InShape, CpuExec>;
  using bound = ConvReluPool<conv, typename P::template layer<typename conv::out_shape, CpuExec>>;
  using next = bind_chain<I + 3, typename bound::out_shape, CpuExec, Rest...>;
  using impls = typename prepend<bound, typename next::impls>::type;
  using out = typename next::out;
};

}  // namespace detail

}  // namespace fernet
