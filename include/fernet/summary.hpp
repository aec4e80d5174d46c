#pragma once
// A Keras-style summary of a network, computed from its types alone (no object is built):
//
//   std::cout << fernet::summary<fernet::networks::NetAdam>().to_string();
//
// lists every layer the user wrote (nested Chain / Residual blocks indented) with its output
// shape, parameter count and activation memory per image, then the totals.
//
// The summary rests on walk_network<Net>(visitor), a compile-time walk over the *spec* types
// (Conv<...>, Residual<...>, ...) that also hands each layer its offsets in the network's
// parameter and buffer blocks; the ONNX exporter (fernet/onnx/) walks networks with it too.
// It reads only what every spec promises (Spec::template layer<In> with in_shape, out_shape,
// param_count, buffer_count), never a layer's implementation, so fusions such as ReLU+Pool
// (layers/pool.hpp) stay invisible: the walk sees the user's list.
#include <algorithm>
#include <array>
#include <cstddef>
#include <cstdio>
#include <string>
#include <type_traits>
#include <vector>

#include "chain.hpp"
#include "layers/all.hpp"
#include "sequential.hpp"

namespace fernet {

// ---- deconstructing the spec types ---------------------------------------------------------
template <class Net>
struct network_traits;  // only Sequential<Input<...>, Layers...> is a network
template <class InputSpec, class... Layers>
struct network_traits<Sequential<InputSpec, Layers...>> {
  using input_spec = InputSpec;
  using input_shape = typename InputSpec::shape;
  using body = Chain<Layers...>;
};

template <class Spec>
inline constexpr bool is_chain = false;
template <class... Ls>
inline constexpr bool is_chain<Chain<Ls...>> = true;
template <class Spec>
inline constexpr bool is_residual = false;
template <class B, class S>
inline constexpr bool is_residual<Residual<B, S>> = true;
template <class Spec>
struct residual_traits;
template <class B, class S>
struct residual_traits<Residual<B, S>> {
  using body = B;
  using shortcut = S;
};

// Where a layer sits inside a Residual: its body, its shortcut, or neither.
enum class Role { plain, body, shortcut };

// One layer (or block) of the walk: the spec bound to its input shape, with its slices of the
// network's blocks, net.parameters()[param_offset, param_offset + param_count) and the same
// for buffers.
template <class Spec, class In>
struct LayerNode {
  using spec = Spec;
  using in_shape = In;
  using out_shape = typename Spec::template layer<In>::out_shape;
  static constexpr std::size_t param_count = Spec::template layer<In>::param_count;
  static constexpr std::size_t buffer_count = Spec::template layer<In>::buffer_count;
  static constexpr bool is_block = is_chain<Spec> || is_residual<Spec>;
  std::size_t param_offset = 0, buffer_offset = 0;
  int depth = 0;  // 0 for the network's own layers, +1 inside each Chain / Residual
  Role role = Role::plain;
};

// The walk calls, in network order:
//   v.layer(node)     for a plain layer;
//   v.enter(node)     for a Chain or Residual, before its contents (a Residual's body, then
//   v.shortcut(node)  for a Residual between its body and its shortcut,
//   v.leave(node)     after its contents.
// A Residual's body and shortcut are walked as one node each (role body / shortcut), so a
// Chain body appears as a block of its own.
template <class Spec, class In, class Visitor>
void walk_node(Visitor& v, const LayerNode<Spec, In>& node);

template <class In, class... Ls>
struct list_walker {
  template <class Visitor>
  static void run(Visitor&, std::size_t, std::size_t, int) {}
};
template <class In, class L, class... Rest>
struct list_walker<In, L, Rest...> {
  template <class Visitor>
  static void run(Visitor& v, std::size_t p, std::size_t b, int depth) {
    const LayerNode<L, In> node{p, b, depth, Role::plain};
    walk_node(v, node);
    list_walker<typename LayerNode<L, In>::out_shape, Rest...>::run(v, p + node.param_count, b + node.buffer_count,
                                                                    depth);
  }
};

template <class List>
struct chain_walker;
template <class... Ls>
struct chain_walker<Chain<Ls...>> {
  template <class In, class Visitor>
  static void run(Visitor& v, std::size_t p, std::size_t b, int depth) {
    list_walker<In, Ls...>::run(v, p, b, depth);
  }
};

template <class Spec, class In, class Visitor>
void walk_node(Visitor& v, const LayerNode<Spec, In>& node) {
  if constexpr (is_chain<Spec>) {
    v.enter(node);
    chain_walker<Spec>::template run<In>(v, node.param_offset, node.buffer_offset, node.depth + 1);
    v.leave(node);
  } else if constexpr (is_residual<Spec>) {
    using Body = typename residual_traits<Spec>::body;
    using Short = typename residual_traits<Spec>::shortcut;
    const LayerNode<Body, In> body{node.param_offset, node.buffer_offset, node.depth + 1, Role::body};
    const LayerNode<Short, In> shortcut{node.param_offset + body.param_count, node.buffer_offset + body.buffer_count,
                                        node.depth + 1, Role::shortcut};
    v.enter(node);
    walk_node(v, body);
    v.shortcut(node);
    walk_node(v, shortcut);
    v.leave(node);
  } else {
    v.layer(node);
  }
}

// Walks the layers of Net (a Sequential) at depth 0, parameters and buffers from offset 0.
template <class Net, class Visitor>
void walk_network(Visitor& v) {
  chain_walker<typename network_traits<Net>::body>::template run<typename network_traits<Net>::input_shape>(v, 0, 0, 0);
}

// ---- the summary ----------------------------------------------------------------------------
struct SummaryRow {
  int depth = 0;                      // indentation: 0 for the network's own layers
  std::string name;                   // the spec's name; "Chain" / "Residual" for blocks
  Role role = Role::plain;            // inside a Residual: its body or its shortcut
  bool block = false;                 // Chain or Residual: its counts include everything inside
  std::array<int, 3> output_shape{};  // channels, height, width of one image
  std::size_t parameters = 0;
  std::size_t buffers = 0;  // floats outside the parameters (batch-norm running statistics)
  // Floats of the output this row itself produces for one image. A Chain's output is its last
  // layer's (0 here); a Residual produces its sum. The column adds up to the total.
  std::size_t activation_floats = 0;
};

struct Summary {
  std::array<int, 3> input_shape{};
  std::vector<SummaryRow> rows;
  std::size_t parameters = 0, buffers = 0;
  std::size_t activation_floats = 0;  // per image, the input excluded
  static constexpr std::size_t bytes_per_float = sizeof(float);

  // A table like Keras' model.summary(): layer, output shape, parameters, activations per image.
  std::string to_string() const;
};

namespace detail {
template <class S>
std::array<int, 3> shape_array() {
  return {S::channels, S::height, S::width};
}

struct SummaryBuilder {
  std::vector<SummaryRow>* rows;
  template <class N>
  void add(const N& node, std::string name, bool block, std::size_t activations) {
    rows->push_back({node.depth, std::move(name), node.role, block, shape_array<typename N::out_shape>(),
                     N::param_count, N::buffer_count, activations});
  }
  template <class N>
  void layer(const N& node) {
    add(node, N::spec::name(), false, N::out_shape::size);
  }
  template <class N>
  void enter(const N& node) {
    if constexpr (is_residual<typename N::spec>) add(node, "Residual", true, N::out_shape::size);
    else add(node, "Chain", true, 0);
  }
  template <class N>
  void shortcut(const N&) {}
  template <class N>
  void leave(const N&) {}
};

inline std::string with_commas(std::size_t n) {
  std::string s = std::to_string(n);
  for (int i = static_cast<int>(s.size()) - 3; i > 0; i -= 3) s.insert(static_cast<std::size_t>(i), ",");
  return s;
}

inline std::string human_bytes(std::size_t bytes) {
  const char* units[] = {"B", "KiB", "MiB", "GiB"};
  double v = static_cast<double>(bytes);
  int u = 0;
  while (v >= 1024.0 && u < 3) {
    v /= 1024.0;
    ++u;
  }
  char buf[32];
  std::snprintf(buf, sizeof buf, u == 0 ? "%.0f %s" : "%.2f %s", v, units[u]);
  return buf;
}

inline std::string pad_right(std::string s, std::size_t width) {
  if (s.size() < width) s.append(width - s.size(), ' ');
  return s;
}
inline std::string pad_left(std::string s, std::size_t width) {
  if (s.size() < width) s.insert(0, width - s.size(), ' ');
  return s;
}
}  // namespace detail

template <class Net>
Summary summary() {
  Summary s;
  s.input_shape = detail::shape_array<typename network_traits<Net>::input_shape>();
  detail::SummaryBuilder builder{&s.rows};
  walk_network<Net>(builder);
  s.parameters = Net::parameter_count;
  s.buffers = Net::buffer_count;
  for (const SummaryRow& r : s.rows) s.activation_floats += r.activation_floats;
  return s;
}

inline std::string Summary::to_string() const {
  using detail::pad_left, detail::pad_right, detail::with_commas;
  auto shape_str = [](const std::array<int, 3>& a) {
    return std::to_string(a[0]) + "x" + std::to_string(a[1]) + "x" + std::to_string(a[2]);
  };
  std::vector<std::array<std::string, 4>> cells;
  cells.push_back({"Layer", "Output shape", "Param #", "Activations/image"});
  for (const SummaryRow& r : rows) {
    std::string name(2 * static_cast<std::size_t>(r.depth), ' ');
    if (r.role == Role::body) name += "body: ";
    if (r.role == Role::shortcut) name += "shortcut: ";
    name += r.name;
    const std::string acts = r.activation_floats ? with_commas(r.activation_floats) + " (" +
                                                       detail::human_bytes(r.activation_floats * bytes_per_float) + ")"
                                                 : "";
    cells.push_back({name, shape_str(r.output_shape), with_commas(r.parameters), acts});
  }
  std::array<std::size_t, 4> width{};
  for (const auto& row : cells)
    for (std::size_t c = 0; c < 4; ++c) width[c] = std::max(width[c], row[c].size());
  const std::size_t total_width = width[0] + width[1] + width[2] + width[3] + 6;
  const std::string thick(total_width, '=');

  std::string out = "Input: " + shape_str(input_shape) + "\n" + thick + "\n";
  for (std::size_t i = 0; i < cells.size(); ++i) {
    const auto& row = cells[i];
    out += pad_right(row[0], width[0]) + "  " + pad_right(row[1], width[1]) + "  " + pad_left(row[2], width[2]) + "  " +
           pad_right(row[3], width[3]);
    while (!out.empty() && out.back() == ' ') out.pop_back();
    out += "\n";
    if (i == 0) out += thick + "\n";
  }
  out += thick + "\n";
  out +=
      "Total parameters: " + with_commas(parameters) + " (" + detail::human_bytes(parameters * bytes_per_float) + ")\n";
  out += "Buffers (batch-norm running statistics): " + with_commas(buffers) + " (" +
         detail::human_bytes(buffers * bytes_per_float) + ")\n";
  out += "Activations per image (layer outputs, forward pass): " + with_commas(activation_floats) + " (" +
         detail::human_bytes(activation_floats * bytes_per_float) + ")\n";
  return out;
}

}  // namespace fernet
