#pragma once
// Residual<Body, Shortcut = Identity>: y = Body(x) + Shortcut(x). Body and Shortcut are layers
// (usually Chain<...> flat lists); both must produce the same shape.
#include <type_traits>

#include "../chain.hpp"
#include "flatten.hpp"

namespace fernet {

namespace detail {
template <class BodyOut, class ShortOut>
struct residual_shapes_agree {
  static_assert(std::is_same_v<BodyOut, ShortOut>,
                "fernet: a Residual's body and shortcut must produce the same shape; see "
                "residual_shapes_agree<body shape, shortcut shape> below");
};

template <class InShape, class Body, class Short, class Exec>
struct ResidualLayer : LayerBase<InShape, typename Body::template layer<InShape, Exec>::out_shape, Exec> {
  using body_t = typename Body::template layer<InShape, Exec>;
  using short_t = typename Short::template layer<InShape, Exec>;
  static constexpr residual_shapes_agree<typename body_t::out_shape, typename short_t::out_shape> check{};
  using out_shape = typename body_t::out_shape;
  static constexpr bool identity = std::is_same_v<Short, Identity>;
  static constexpr std::size_t param_count = body_t::param_count + short_t::param_count;
  static constexpr std::size_t buffer_count = body_t::buffer_count + short_t::buffer_count;

  explicit ResidualLayer(const Exec& exec = {})
      : LayerBase<InShape, out_shape, Exec>(exec),
        body_(exec),
        short_(exec),
        body_out_(this->template make_array<float>()),
        short_out_(this->template make_array<float>()),
        short_dx_(this->template make_array<float>()) {}

  void bind(float* p, float* g, float* b) {
    body_.bind(p, g, b);
    short_.bind(p ? p + body_t::param_count : nullptr, g ? g + body_t::param_count : nullptr,
                b ? b + body_t::buffer_count : nullptr);
  }
  void init(Rng& rng) {
    body_.init(rng);
    short_.init(rng);
  }

  void forward(const float* x, float* y, int n, const Context& ctx) {
    const long total = this->total_out(n);
    body_out_.resize(total);
    body_.forward(x, body_out_.data(), n, ctx.child(0));
    if constexpr (identity) {
      this->ops().add(body_out_.data(), x, y, total);
    } else {
      short_out_.resize(total);
      short_.forward(x, short_out_.data(), n, ctx.child(1));
      this->ops().add(body_out_.data(), short_out_.data(), y, total);
    }
  }
  void backward(const float* x, const float*, const float* dy, float* dx, int n, const Context& ctx) {
    const long in_total = this->total_in(n);
    if constexpr (identity) {
      body_.backward(x, body_out_.data(), dy, dx, n, ctx.child(0));
      if (dx) this->ops().add_inplace(dx, dy, in_total);
    } else {
      if (dx) short_dx_.resize(in_total);
      body_.backward(x, body_out_.data(), dy, dx, n, ctx.child(0));
      short_.backward(x, short_out_.data(), dy, dx ? short_dx_.data() : nullptr, n, ctx.child(1));
      if (dx) this->ops().add_inplace(dx, short_dx_.data(), in_total);
    }
  }

 private:
  body_t body_;
  short_t short_;
  typename Exec::template array<float> body_out_, short_out_, short_dx_;
};
}  // namespace detail

template <class Body, class Shortcut = Identity>
struct Residual {
  using body = Body;
  using shortcut = Shortcut;
  static std::string name() { return "Residual<" + Body::name() + ", " + Shortcut::name() + ">"; }
  template <class InShape>
  static constexpr bool accepts = Body::template accepts<InShape>;
  template <class InShape>
  using expects = typename Body::template expects<InShape>;
  template <class InShape, class Exec = CpuExec>
  using layer = detail::ResidualLayer<InShape, Body, Shortcut, Exec>;
};

}  // namespace fernet
