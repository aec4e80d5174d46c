#pragma once
// What every layer provides. A layer *spec* is the type a user writes in a Sequential list
// (Conv<1,32,3>, ReLU, ...):
//
//   struct Spec {
//     static std::string name();                          // "Conv<1,32,3>", for messages
//     template <class In> static constexpr bool accepts;  // can it follow a layer producing In?
//     template <class In> using expects = ...;            // what it wanted, for the diagnostic
//     template <class In> using layer = ...;              // the implementation for input shape In
//   };
//
// and the implementation bound to an input shape provides:
//
//   using in_shape, out_shape;
//   static constexpr std::size_t param_count, buffer_count;   // floats in the model's blocks
//   void bind(float* params, float* grads, float* buffers);   // its slices of those blocks
//   void init(Rng&);                                          // parameters and buffers
//   void forward(const float* x, float* y, int n, const Context&);
//   void backward(const float* x, const float* y, const float* dy, float* dx, int n, const Context&);
//
// backward() *adds* parameter gradients (like PyTorch; zero_grad() clears them) and writes the
// input gradient to dx unless dx is null (the first layer of a network needs none).
#include <cstdint>
#include <string>

#include "random.hpp"
#include "shape.hpp"

namespace fernet {

struct Context {
  bool training = false;
  std::uint64_t noise_seed = 0;  // dropout masks derive from it: same seed, same masks
  // The context handed to the i-th layer of a chain: distinct noise per position.
  Context child(std::size_t i) const {
    return {training, hash64(noise_seed, 0x5EEDull + i)};
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

// Common part of layers without parameters.
template <class In, class Out>
struct ParameterFree {
  using in_shape = In;
  using out_shape = Out;
  static constexpr std::size_t param_count = 0, buffer_count = 0;
  void bind(float*, float*, float*) {}
  void init(Rng&) {}
};

// Spec helper for layers that accept any input shape.
struct AnyShape {
  template <class In>
  static constexpr bool accepts = true;
  template <class In>
  using expects = In;
};

// ---- diagnostics ---------------------------------------------------------------------------
// When layer I cannot take what layer I-1 produces, the compiler prints the instantiation of
// shape_mismatch below, which reads as a sentence, e.g.
//   fernet::shape_mismatch<fernet::layer<10>, fernet::Linear<2047, 1024>,
//     fernet::expects_inputs<2047>, fernet::but_layer<9>, fernet::produces<128, 4, 4, 2048>>
template <std::size_t I> struct layer {};
template <int N> struct but_layer {};
template <int C, int H, int W, std::size_t Total> struct produces {};
template <int N> struct expects_inputs {};
template <int N> struct expects_channels {};

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
