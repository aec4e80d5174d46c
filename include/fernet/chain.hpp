#pragma once
// Chain<Layers...>: a flat list of layers run one after another. It is the body of every
// Sequential and of residual blocks. Walking the list binds each layer to the shape the
// previous one produces and rejects a mismatch at compile time with a message naming both.
#include <algorithm>
#include <array>
#include <cstring>
#include <tuple>
#include <utility>
#include <vector>

#include "layer.hpp"
#include "parallel.hpp"

namespace fernet {

namespace detail {

template <class... T>
struct type_list {};
template <class T, class List>
struct prepend;
template <class T, class... U>
struct prepend<T, type_list<U...>> {
  using type = type_list<T, U...>;
};

// Stand-in after a mismatch so that only the first error is reported.
struct poisoned_shape : Shape<0, 0, 0> {};
template <class Exec>
struct poisoned_layer : ParameterFree<poisoned_shape, poisoned_shape, Exec> {
  using ParameterFree<poisoned_shape, poisoned_shape, Exec>::ParameterFree;
  void forward(const float*, float*, int, const Context&) {}
  void backward(const float*, const float*, const float*, float*, int, const Context&) {}
};

template <std::size_t I, class InShape, class L, class Exec, bool Ok = L::template accepts<InShape>>
struct checked_bind {
  using type = typename L::template layer<InShape, Exec>;
};

template <std::size_t I, class InShape, class L, class Exec>
struct checked_bind<I, InShape, L, Exec, false> {
  using report =
      typename shape_mismatch<layer<I>, L, typename L::template expects<InShape>, but_layer<static_cast<int>(I) - 1>,
                              produces<InShape::channels, InShape::height, InShape::width, InShape::size>>::type;
  using type = poisoned_layer<Exec>;
};

template <std::size_t I, class L, class Exec>
struct checked_bind<I, poisoned_shape, L, Exec, true> {
  using type = poisoned_layer<Exec>;
};
template <std::size_t I, class L, class Exec>
struct checked_bind<I, poisoned_shape, L, Exec, false> {
  using type = poisoned_layer<Exec>;
};

// Binds each spec of a list to the shape its predecessor produces. Fusions of adjacent specs
// (layers/fusions.hpp) specialise this walk.
template <std::size_t I, class InShape, class Exec, class... Ls>
struct bind_chain {
  using impls = type_list<>;
  using out = InShape;
};
template <std::size_t I, class InShape, class Exec, class L, class... Rest>
struct bind_chain<I, InShape, Exec, L, Rest...> {
  using bound = typename checked_bind<I, InShape, L, Exec>::type;
  using next = bind_chain<I + 1, typename bound::out_shape, Exec, Rest...>;
  using impls = typename prepend<bound, typename next::impls>::type;
  using out = typename next::out;
};

// How many positions of a chain a bound layer takes: 1, or for a fusion that stands for several
// bound layers (layers/fusions.hpp) their number, so that the layers after it see the positions,
// and derive the dropout masks, that they would see without it. The devices bind fewer fusions
// than the CPU, and a run continues the same masks on either.
template <class L>
inline constexpr std::size_t positions_of = 1;
template <class L>
requires requires { L::positions; }
inline constexpr std::size_t positions_of<L> = L::positions;

// The walk through a chain of bound layers: activations and gradients live in the execution
// policy's arrays (std::vector<float> on the CPU, device::DeviceArray<float> on a device; both
// grow with resize()).
template <class LayersTuple, class Exec>
struct ChainWalk {
  static constexpr std::size_t count = std::tuple_size_v<LayersTuple>;
  template <std::size_t I>
  using layer_t = std::tuple_element_t<I, LayersTuple>;
  using Buffer = typename Exec::template array<float>;

  explicit ChainWalk(const Exec& exec)
      : layers(construct(exec, std::make_index_sequence<count>{})),
        acts(filled(exec, std::make_index_sequence<std::tuple_size_v<decltype(acts)>>{})),
        grads(filled(exec, std::make_index_sequence<2>{})) {}

  void forward(const float* x, float* y, int n, const Context& ctx) { forward_from<0>(x, y, n, ctx); }

  // Inference that keeps nothing for backward (Sequential::infer): the leading layers whose
  // inputs are images (height or width above 1: convolutions, pooling, their activations) take
  // the batch a slice at a time, so that each layer reads its input from L2, where the layer
  // before has just written it, instead of from memory; the layers after them (the dense head,
  // whose weights are what they stream) take the whole batch at once. Every layer computes each
  // sample on its own in inference, so the outputs are forward()'s, bit for bit.
  void infer(const float* x, float* y, int n, const Context& ctx) {
    if constexpr (Exec::host && streamed > 0) {
      const int slice = slice_samples(threads());
      if (n > slice) {
        for (int s = 0; s < n; s += slice) slice_from<0>(x, y, s, std::min(slice, n - s), n, ctx);
        if constexpr (streamed < count) forward_from<streamed>(x, y, n, ctx);
        return;
      }
    }
    forward_from<0>(x, y, n, ctx);
  }

  // How many leading layers infer() streams in slices.
  static constexpr std::size_t streamed = [] {
    std::size_t s = 0;
    bool image = true;
    [&]<std::size_t... J>(std::index_sequence<J...>) {
      ((image = image && (layer_t<J>::in_shape::height > 1 || layer_t<J>::in_shape::width > 1), s += image), ...);
    }(std::make_index_sequence<count>{});
    return s;
  }();
  // Samples per slice: each thread's share of the largest input + output of a streamed layer
  // (slice_sample_bytes) within slice_bytes_per_thread (half of the Xeon's L2, the Zen 5's whole
  // L2), at least one sample per thread. NetAdam at batch 100 (5 samples a thread) measured
  // 1.04-1.09x at 1 thread, 1.03-1.08x at 2 with 0.5-4 MiB; the VM's noise hid any optimum.
  static constexpr std::size_t slice_bytes_per_thread = std::size_t{1} << 20;
  static constexpr std::size_t slice_sample_bytes = [] {
    std::size_t bytes = 1;
    [&]<std::size_t... J>(std::index_sequence<J...>) {
      ((bytes = std::max(bytes, (layer_t<J>::in_shape::size + layer_t<J>::out_shape::size) * sizeof(float))), ...);
    }(std::make_index_sequence<streamed>{});
    return bytes;
  }();
  static int slice_samples(int threads) {
    return std::max(1, threads) * static_cast<int>(std::max<std::size_t>(1, slice_bytes_per_thread / slice_sample_bytes));
  }
  void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context& ctx) {
    backward_from<count - 1>(x, y, dy, dx, n, ctx);
  }

  LayersTuple layers;
  std::array<Buffer, (count > 1 ? count - 1 : 1)> acts;  // output of layer I (I < count-1)
  std::array<Buffer, 2> grads;

 private:
  template <std::size_t... I>
  static LayersTuple construct(const Exec& exec, std::index_sequence<I...>) {
    return LayersTuple(((void)I, exec)...);
  }
  template <std::size_t... I>
  static auto filled(const Exec& exec, std::index_sequence<I...>) {
    return std::array<Buffer, sizeof...(I)>{((void)I, exec.template make_array<float>())...};
  }
  template <std::size_t I>
  float* output_of(float* y, int n) {
    if constexpr (I + 1 == count) {
      return y;
    } else {
      acts[I].resize(static_cast<std::size_t>(n) * layer_t<I>::out_shape::size);
      return acts[I].data();
    }
  }
  template <std::size_t I>
  const float* input_of(const float* x) const {
    if constexpr (I == 0) return x;
    else return acts[I - 1].data();
  }

  // Layer I's position (positions_of): its Context::child index.
  template <std::size_t I>
  static constexpr std::size_t position = [] {
    std::size_t p = 0;
    [&]<std::size_t... J>(std::index_sequence<J...>) { ((p += positions_of<layer_t<J>>), ...); }
    (std::make_index_sequence<I>{});
    return p;
  }();

  template <std::size_t I>
  void forward_from(const float* x, float* y, int n, const Context& ctx) {
    float* out = output_of<I>(y, n);
    std::get<I>(layers).forward(input_of<I>(x), out, n, ctx.child(position<I>));
    if constexpr (I + 1 < count) forward_from<I + 1>(x, y, n, ctx);
  }

  // Samples [s, s + c) of a batch of n through layers I..streamed-1. The layers before the last
  // streamed one write into their own slice-sized buffer (acts[I] from offset 0), the same memory
  // for every slice, so it stays in cache and its stores need no lines from memory; the last one
  // writes its slice of the whole-batch output that the layers after it read.
  template <std::size_t I>
  void slice_from(const float* x, float* y, int s, int c, int n, const Context& ctx) {
    using L = layer_t<I>;
    const float* in = [&] {
      if constexpr (I == 0) return x + static_cast<std::size_t>(s) * L::in_shape::size;
      else return static_cast<const float*>(acts[I - 1].data());
    }();
    float* out = nullptr;
    if constexpr (I + 1 < streamed) {
      const std::size_t need = static_cast<std::size_t>(c) * L::out_shape::size;
      if (acts[I].size() < need) acts[I].resize(need);
      out = acts[I].data();
    } else {
      out = output_of<I>(y, n) + static_cast<std::size_t>(s) * L::out_shape::size;
    }
    Context sc = ctx.child(position<I>);
    sc.first_sample += s;
    std::get<I>(layers).forward(in, out, c, sc);
    if constexpr (I + 1 < streamed) slice_from<I + 1>(x, y, s, c, n, ctx);
  }

  // Whether any layer before I has parameters: if none has and the caller wants no input
  // gradient (dx null, e.g. the MLP's Flatten then Linear), layer I need not compute its own
  // input gradient and the walk stops there (for the MLP: fc1's whole dX product).
  template <std::size_t I>
  static constexpr bool params_before = [] {
    std::size_t total = 0;
    [&]<std::size_t... J>(std::index_sequence<J...>) { ((total += layer_t<J>::param_count), ...); }
    (std::make_index_sequence<I>{});
    return total > 0;
  }();

  // Gradients ping-pong between two buffers: layer I reads grads[I % 2] (or dy) and writes
  // grads[(I - 1) % 2] (or dx).
  template <std::size_t I>
  void backward_from(const float* x, const float* y, const float* dy, float* dx, int n, const Context& ctx) {
    const float* out = [&] {
      if constexpr (I + 1 == count) return y;
      else return static_cast<const float*>(acts[I].data());
    }();
    const float* grad_out = (I + 1 == count) ? dy : grads[I % 2].data();
    const bool go_on = dx || params_before<I>;  // anything below layer I still to compute?
    float* grad_in = nullptr;
    if constexpr (I == 0) {
      grad_in = dx;
    } else if (go_on) {
      auto& buf = grads[(I - 1) % 2];
      const std::size_t need = static_cast<std::size_t>(n) * layer_t<I>::in_shape::size;
      if (buf.size() < need) buf.resize(need);
      grad_in = buf.data();
    }
    std::get<I>(layers).backward(input_of<I>(x), out, grad_out, grad_in, n, ctx.child(position<I>));
    if constexpr (I > 0)
      if (go_on) backward_from<I - 1>(x, y, dy, dx, n, ctx);
  }
};

template <class List, class Exec>
struct chain_impl;

template <class... Impls, class Exec>
struct chain_impl<type_list<Impls...>, Exec> {
  static constexpr std::size_t count = sizeof...(Impls);
  static_assert(count > 0, "fernet: a Chain needs at least one layer");
  using layers_tuple = std::tuple<Impls...>;
  using in_shape = typename std::tuple_element_t<0, layers_tuple>::in_shape;
  using out_shape = typename std::tuple_element_t<count - 1, layers_tuple>::out_shape;
  using exec_type = Exec;

  explicit chain_impl(const Exec& exec = {}) : walk_(exec) {}
  static constexpr std::size_t param_count = (Impls::param_count + ... + 0);
  static constexpr std::size_t buffer_count = (Impls::buffer_count + ... + 0);

  // Where layer I's slice of the parameter / buffer block starts.
  static constexpr std::size_t prefix_sum(const std::array<std::size_t, count>& counts, std::size_t i) {
    std::size_t s = 0;
    for (std::size_t k = 0; k < i; ++k) s += counts[k];
    return s;
  }
  template <std::size_t I>
  static constexpr std::size_t param_offset = prefix_sum({Impls::param_count...}, I);
  template <std::size_t I>
  static constexpr std::size_t buffer_offset = prefix_sum({Impls::buffer_count...}, I);

  // Hands each layer its slices of the three blocks (any null block stays null).
  template <class Tuple>
  static void bind_layers(Tuple& layers, float* p, float* g, float* b) {
    [&]<std::size_t... I>(std::index_sequence<I...>) {
      (std::get<I>(layers).bind(p ? p + param_offset<I> : nullptr, g ? g + param_offset<I> : nullptr,
                                b ? b + buffer_offset<I> : nullptr),
       ...);
    }
    (std::make_index_sequence<count>{});
  }

  void bind(float* params, float* grads, float* buffers) { bind_layers(walk_.layers, params, grads, buffers); }
  layers_tuple& layers() { return walk_.layers; }
  void init(Rng& rng) {
    std::apply([&](auto&... l) { (l.init(rng), ...); }, walk_.layers);
  }
  void forward(const float* x, float* y, int n, const Context& ctx) { walk_.forward(x, y, n, ctx); }
  void infer(const float* x, float* y, int n, const Context& ctx) { walk_.infer(x, y, n, ctx); }
  static constexpr std::size_t streamed = ChainWalk<layers_tuple, Exec>::streamed;
  static int slice_samples(int threads) { return ChainWalk<layers_tuple, Exec>::slice_samples(threads); }
  void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context& ctx) {
    walk_.backward(x, y, dy, dx, n, ctx);
  }

 private:
  ChainWalk<layers_tuple, Exec> walk_;
};

template <class... Ls>
std::string names() {
  std::string s;
  ((s += (s.empty() ? "" : ", ") + Ls::name()), ...);
  return s;
}

}  // namespace detail

template <class... Layers>
struct Chain {
  static std::string name() { return "Chain<" + detail::names<Layers...>() + ">"; }
  // Each inner layer is checked against its own predecessor when the chain is bound.
  template <class InShape>
  static constexpr bool accepts = true;
  template <class InShape>
  using expects = InShape;
  template <class InShape, class Exec = CpuExec>
  using layer = detail::chain_impl<typename detail::bind_chain<0, InShape, Exec, Layers...>::impls, Exec>;
};

namespace detail {
template <class T, std::size_t>
using always = T;
template <class T, class Seq>
struct repeat_impl;
template <class T, std::size_t... I>
struct repeat_impl<T, std::index_sequence<I...>> {
  using type = Chain<always<T, I>...>;
};
}  // namespace detail

// Repeat<N, Block>: N copies of Block in a chain (ResNet stages).
template <std::size_t N, class Block>
using Repeat = typename detail::repeat_impl<Block, std::make_index_sequence<N>>::type;

}  // namespace fernet
