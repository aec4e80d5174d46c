#pragma once
// Dropout<P>: in training, zeroes each value with probability P and scales the rest by
// 1/(1-P) (inverted dropout, as PyTorch); in evaluation, the identity. The mask is a pure
// function of the context's noise seed and the element index, so it does not depend on
// the thread count and a model seeded the same way drops the same units.
#include <cstdint>
#include <cstring>
#include <vector>

#include "../layer.hpp"

namespace fernet {

namespace detail {
// The mask rule, shared with the device backends: 24 random bits per element, kept when
// below (1-P) * 2^24.
template <float P>
inline constexpr std::uint32_t dropout_threshold = static_cast<std::uint32_t>((1.0 - P) * 16777216.0);

template <class In, float P>
struct DropoutLayer : ParameterFree<In, In> {
  void forward(const float* x, float* y, int n, const Context& ctx) {
    const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(n) * In::size;
    if (!ctx.training || P == 0.f) {
      std::memcpy(y, x, sizeof(float) * total);
      return;
    }
    keep_.resize(total);
    const float scale = 1.f / (1.f - P);
    const std::uint32_t threshold = dropout_threshold<P>;
#pragma omp parallel for schedule(static) if (total > (1 << 15))
    for (std::ptrdiff_t i = 0; i < total; ++i) {
      const bool keep = (hash64(ctx.noise_seed, static_cast<std::uint64_t>(i)) >> 40) < threshold;
      keep_[i] = keep;
      y[i] = keep ? x[i] * scale : 0.f;
    }
  }
  void backward(const float*, const float*, const float* dy, float* dx, int n, const Context& ctx) {
    if (!dx) return;
    const std::ptrdiff_t total = static_cast<std::ptrdiff_t>(n) * In::size;
    if (!ctx.training || P == 0.f) {
      std::memcpy(dx, dy, sizeof(float) * total);
      return;
    }
    const float scale = 1.f / (1.f - P);
    for (std::ptrdiff_t i = 0; i < total; ++i) dx[i] = keep_[i] ? dy[i] * scale : 0.f;
  }

 private:
  std::vector<std::uint8_t> keep_;
};
}  // namespace detail

template <float P>
struct Dropout : AnyShape {
  static_assert(P >= 0.f && P < 1.f, "fernet: Dropout<P> needs 0 <= P < 1");
  static std::string name() { return "Dropout<" + std::to_string(P).substr(0, 4) + ">"; }
  template <class In>
  using layer = detail::DropoutLayer<In, P>;
};

}  // namespace fernet
