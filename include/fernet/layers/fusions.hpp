#pragma once
// Fusions: adjacent layers of a Sequential list that run as one layer, with outputs and
// gradients exactly those of the separate layers. They are found while the list is bound
// (a specialisation of detail::bind_chain), so users write the plain layers.
//
//   ReLU, Pool<...>  ->  ReluThenPool: max and ReLU commute, so pooling first applies the ReLU
//   to a quarter of the values and never writes the full-size ReLU output (NetAdam training
//   +10-25%, TF CNN +13-19% on the CPU; benchmarks/NOTES.md).
#include <type_traits>

#include "../chain.hpp"
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

}  // namespace detail

}  // namespace fernet
