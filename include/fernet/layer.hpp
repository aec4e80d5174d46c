#pragma once
// What every layer provides. A layer *spec* is the type a user writes in a Sequential list
// (Conv<1,32,3>, ReLU, ...):
//
//   struct Spec {
//     static std::string name();                               // "Conv<1,32,3>", for messages
//     template <class InShape> static constexpr bool accepts;  // can it follow a layer producing InShape?
//     template <class InShape> using expects = ...;            // what it wanted, for the diagnostic
//     template <class InShape, class Exec = CpuExec>
//     using layer = ...;                                       // the implementation for InShape, run by Exec
//   };
//
// and the implementation bound to an input shape and an execution policy (execution.hpp)
// provides:
//
//   using in_shape, out_shape;
//   static constexpr std::size_t param_count, buffer_count;   // floats in the model's blocks
//   explicit Impl(const Exec&);                               // where it runs
//   void bind(float* params, float* grads, float* buffers);   // its slices of those blocks
//   void init(Rng&);                                          // parameters and buffers (host memory)
//   void forward(const float* x, float* y, int n, const Context&);
//   void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context&);
//
// backward() *adds* parameter gradients (like PyTorch; zero_grad() clears them) and writes the
// input gradient to dx unless dx is null (the first layer of a network needs none).
#include <cstdint>
#include <string>

#include "execution.hpp"
#include "random.hpp"
#include "shape.hpp"

namespace fernet {

struct Context {
  bool training = false;
  std::uint64_t noise_seed = 0;  // dropout masks derive from it: same seed, same masks
  // Position of the batch's first sample in a larger batch split across processes (dist/): a
  // sample's dropout mask then depends on its place in the whole batch, not on the split.
  long first_sample = 0;
  // Non-zero: inference reads linear layers' weights rounded to half precision (kernels/half.hpp;
  // Sequential::use_half_linear_weights). The value changes whenever the weights may have
  // changed, and a layer whose half copy was made for another value makes it again.
  std::uint64_t half_weights = 0;
  // The context handed to the i-th layer of a chain: distinct noise per position.
  Context child(std::size_t i) const {
    return {training, hash64(noise_seed, 0x5EEDull + i), first_sample, half_weights};
  }
};

namespace detail {
inline std::string join_ints() { return {}; }
template <class... T>
std::string join_ints(int first, T... rest) {
  std::string s = std::to_string(first);
  ((s += "," + std::to_string(rest)), ...);
  return s;
}
}  // namespace detail

// What every layer implementation shares: its shapes and where it runs.
template <class InShape, class OutShape, class Exec>
struct LayerBase {
  using in_shape = InShape;
  using out_shape = OutShape;
  using exec_type = Exec;
  explicit LayerBase(const Exec& exec = {}) : exec_(exec) {}

 protected:
  decltype(auto) ops() const { return exec_.ops(); }
  template <class T>
  auto make_array() const {
    return exec_.template make_array<T>();
  }
  static long total_in(int n) { return static_cast<long>(n) * InShape::size; }
  static long total_out(int n) { return static_cast<long>(n) * OutShape::size; }
  Exec exec_;
};

// Common part of layers without parameters.
template <class InShape, class OutShape, class Exec>
struct ParameterFree : LayerBase<InShape, OutShape, Exec> {
  using LayerBase<InShape, OutShape, Exec>::LayerBase;
  static constexpr std::size_t param_count = 0, buffer_count = 0;
  void bind(float*, float*, float*) {}
  void init(Rng&) {}
};

// Spec helper for layers that accept any input shape.
struct AnyShape {
  template <class InShape>
  static constexpr bool accepts = true;
  template <class InShape>
  using expects = InShape;
};

// ---- diagnostics ---------------------------------------------------------------------------
// When layer I cannot take what layer I-1 produces, the compiler prints the instantiation of
// shape_mismatch below, which reads as a sentence, e.g.
//   fernet::shape_mismatch<fernet::layer<10>, fernet::Linear<2047, 1024>,
//     fernet::expects_inputs<2047>, fernet::but_layer<9>, fernet::produces<128, 4, 4, 2048>>
template <std::size_t I>
struct layer {};
template <int N>
struct but_layer {};
template <int C, int H, int W, std::size_t Total>
struct produces {};
template <int N>
struct expects_inputs {};
template <int N>
struct expects_channels {};

template <class... Sentence>
inline constexpr bool always_false = false;

template <class Layer, class Spec, class Expects, class Previous, class Produces>
struct shape_mismatch {
  static_assert(always_false<Layer>,
                "fernet: shape mismatch between consecutive layers. The 'shape_mismatch<layer<I>, "
                "Spec, expects..., but_layer<I-1>, produces<C, H, W, C*H*W>>' in this message names "
                "the layer, what it expects and what the layer before it produces.");
  using type = void;
};

}  // namespace fernet
