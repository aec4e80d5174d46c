#pragma once
// ONNX export of a fernet network, for inference elsewhere (onnxruntime, OpenCV's DNN, ...):
//
//   fernet::onnx::ExportOptions opt;
//   opt.preprocessing = fernet::onnx::Preprocessing{.scale = 1.f / 255.f, .offset = 0.f};
//   opt.class_names = {"Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"};
//   fernet::onnx::export_model(net, "model.onnx", opt);
//
// The graph walks the spec types with fernet::walk_network (summary.hpp), one node per layer in
// the standard ai.onnx opset 13: Conv (TensorFlow-'SAME' layers get their explicit, possibly
// asymmetric pads), MaxPool, BatchNormalization (inference form: running statistics), Gemm,
// Relu, Add (residual sums), GlobalAveragePool, Flatten, LogSoftmax. Dropout and Identity
// vanish (inference). Weights are copied from the network's parameter and buffer blocks, each
// layer's slice in the order the layers lay them out (Conv: Out x In x K x K weights then bias;
// Linear: Out x In then bias; BatchNorm2d: gamma, beta | running mean, running variance).
//
// The graph's input is named `input`, NCHW float32 with a dynamic batch dimension `batch`;
// its output `output`. With options.preprocessing set, the input is raw grey pixels
// (N x 1 x H x W, 0..255) and the graph starts with the preprocessing as nodes (Mul, Add, and a
// Concat that replicates grey to the network's channels); without it, the input is what the
// network itself takes. metadata_props say which, and carry the class names.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <optional>
#include <span>
#include <stdexcept>
#include <string>
#include <tuple>
#include <type_traits>
#include <utility>
#include <vector>

#include "../atomic_file.hpp"
#include "../summary.hpp"
#include "../version.hpp"
#include "graph.hpp"

namespace fernet::onnx {

// value = pixel * scale + offset, grey replicated to the network's channels (as
// data::Preprocess, which this header does not include: the core does not depend on data/).
struct Preprocessing {
  float scale = 1.f;
  float offset = 0.f;
};

struct ExportOptions {
  std::string model_name = "fernet";                          // the graph's name
  std::optional<Preprocessing> preprocessing;                 // set: the graph takes raw 0..255 grey pixels
  std::vector<std::string> class_names;                       // metadata "class_names", comma-separated
  std::vector<std::pair<std::string, std::string>> metadata;  // more metadata_props
};

struct ExportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// How each spec becomes nodes. A spec without a specialisation here cannot be exported and
// says so at compile time.
template <class Spec>
struct OnnxLayer {
  static_assert(always_false<Spec>,
                "fernet::onnx: this layer type has no ONNX mapping; add an OnnxLayer<Spec> specialisation "
                "in fernet/onnx/export.hpp");
};

namespace detail {

// Where an initializer's values lie in the network: the importer (import.hpp) writes them back.
struct Binding {
  std::string tensor, what;  // the initializer's name; "weight", "bias", "mean", ...
  bool from_buffers = false;
  std::size_t offset = 0;
  std::vector<std::int64_t> dims;
};

// The state of the export walk: the graph so far and the tensor the next layer reads.
class GraphBuilder {
 public:
  GraphBuilder(std::span<const float> params, std::span<const float> buffers) : params_(params), buffers_(buffers) {}

  Model model;
  std::vector<Binding> bindings;  // one per initializer taken from the network's blocks
  std::string current;  // the tensor the next layer reads
  int rank = 4;         // its rank: 4 (N, C, H, W) or 2 (N, C*H*W) after Flatten / Gemm

  // The name of `what` at the walk's current position, e.g. "3.1.body.0.weight".
  std::string name(const std::string& what) const { return path_ + what; }

  std::string add_node(std::string op, std::vector<std::string> inputs, std::vector<Attribute> attributes = {}) {
    const std::string out = name(op) + "_" + std::to_string(counter_++);
    model.nodes.push_back({std::move(op), out, std::move(inputs), {out}, std::move(attributes)});
    return out;
  }
  // Replaces `current` by the output of one node that reads it.
  void apply(std::string op, std::vector<Attribute> attributes = {}, std::vector<std::string> extra_inputs = {}) {
    std::vector<std::string> inputs{current};
    inputs.insert(inputs.end(), extra_inputs.begin(), extra_inputs.end());
    current = add_node(std::move(op), std::move(inputs), std::move(attributes));
  }

  // An initializer holding n floats of the parameter (or buffer) block from offset.
  std::string parameter(const std::string& what, std::vector<std::int64_t> dims, std::size_t offset, std::size_t n,
                        bool from_buffers = false) {
    const std::span<const float> block = from_buffers ? buffers_ : params_;
    if (offset + n > block.size())
      throw ExportError("fernet::onnx: " + what + " needs floats " + std::to_string(offset) + ".." +
                        std::to_string(offset + n) + " of the network's " + (from_buffers ? "buffers" : "parameters") +
                        ", which hold " + std::to_string(block.size()));
    const std::string tensor = name(what);
    bindings.push_back({tensor, what, from_buffers, offset, dims});
    model.initializers.push_back(Initializer::floats(tensor, std::move(dims), block.subspan(offset, n)));
    return tensor;
  }
  std::string constant(const std::string& what, std::vector<std::int64_t> dims, std::vector<float> values) {
    const std::string tensor = "const_" + what + "_" + std::to_string(counter_++);
    model.initializers.push_back(Initializer::floats(tensor, std::move(dims), values));
    return tensor;
  }

  // Layers that need N x C x H x W (convolution, pooling, batch norm) reshape a flat input back.
  template <class Shape>
  void ensure_image() {
    current = as_image<Shape>(current, rank);
    rank = 4;
  }
  template <class Shape>
  std::string as_image(const std::string& tensor, int tensor_rank) {
    if (tensor_rank == 4) return tensor;
    const std::int64_t dims[] = {-1, Shape::channels, Shape::height, Shape::width};
    const std::string shape = "const_shape_" + std::to_string(counter_++);
    model.initializers.push_back(Initializer::int64s(shape, dims));
    return add_node("Reshape", {tensor, shape});
  }
  // Gemm and LogSoftmax need N x (C*H*W).
  void ensure_flat() {
    if (rank == 2) return;
    apply("Flatten", {Attribute::integer("axis", 1)});
    rank = 2;
  }

  // Where the walk is, for node names such as "3.1.body.0.Conv_12".
  void enter(std::string part) {
    saved_paths_.push_back(path_);
    path_ += std::move(part) + ".";
  }
  void leave() {
    path_ = saved_paths_.back();
    saved_paths_.pop_back();
  }

 private:
  std::span<const float> params_, buffers_;
  std::string path_;
  std::vector<std::string> saved_paths_;
  int counter_ = 0;
};

// The walk's visitor: each layer through OnnxLayer<Spec>, residual blocks as Add of their two
// branches, positions in node names.
class ExportVisitor {
 public:
  explicit ExportVisitor(GraphBuilder& g) : g_(g) {}

  template <class N>
  void layer(const N& node) {
    g_.enter(position(node));
    OnnxLayer<typename N::spec>::emit(g_, node);
    g_.leave();
    ++index_.back();
  }
  template <class N>
  void enter(const N& node) {
    g_.enter(position(node));
    index_.push_back(0);
    if constexpr (is_residual<typename N::spec>) branches_.push_back({g_.current, g_.rank, {}, 0});
  }
  template <class N>
  void shortcut(const N&) {
    Branches& b = branches_.back();
    b.body_out = g_.current;
    b.body_rank = g_.rank;
    g_.current = b.input;
    g_.rank = b.input_rank;
  }
  template <class N>
  void leave(const N&) {
    if constexpr (is_residual<typename N::spec>) {
      const Branches b = branches_.back();
      branches_.pop_back();
      std::string body = b.body_out;
      if (b.body_rank != g_.rank) {  // one branch flattened: both as N x C x H x W
        body = g_.template as_image<typename N::out_shape>(body, b.body_rank);
        g_.template ensure_image<typename N::out_shape>();
      }
      g_.current = g_.add_node("Add", {body, g_.current});
    }
    index_.pop_back();
    g_.leave();
    ++index_.back();
  }

 private:
  struct Branches {
    std::string input;
    int input_rank;
    std::string body_out;
    int body_rank;
  };
  template <class N>
  std::string position(const N& node) const {
    if (node.role == Role::body) return "body";
    if (node.role == Role::shortcut) return "shortcut";
    return std::to_string(index_.back());
  }

  GraphBuilder& g_;
  std::vector<int> index_{0};
  std::vector<Branches> branches_;
};

inline std::vector<std::int64_t> square(int k) { return {k, k}; }

// Convolution with pads top, left, bottom, right (ONNX's order: begins, then ends).
template <class N>
void emit_conv(GraphBuilder& g, const N& node, int cin, int cout, int k, int stride, std::vector<std::int64_t> pads,
               bool bias) {
  g.template ensure_image<typename N::in_shape>();
  const std::size_t weights = static_cast<std::size_t>(cout) * cin * k * k;
  std::vector<std::string> inputs{g.current, g.parameter("weight", {cout, cin, k, k}, node.param_offset, weights)};
  if (bias) inputs.push_back(g.parameter("bias", {cout}, node.param_offset + weights, static_cast<std::size_t>(cout)));
  g.current = g.add_node("Conv", std::move(inputs),
                         {Attribute::integers("kernel_shape", square(k)),
                          Attribute::integers("strides", square(stride)), Attribute::integers("pads", std::move(pads)),
                          Attribute::integers("dilations", square(1)), Attribute::integer("group", 1)});
}

template <class N>
void emit_max_pool(GraphBuilder& g, int k, int stride, std::vector<std::int64_t> pads) {
  g.template ensure_image<typename N::in_shape>();
  g.apply("MaxPool", {Attribute::integers("kernel_shape", square(k)), Attribute::integers("strides", square(stride)),
                      Attribute::integers("pads", std::move(pads))});
}

// The padding of a TensorFlow-'SAME' layer N, in ONNX's order (top, left, bottom, right): the
// total is what the layer's own output size needs, and the odd row or column goes to the
// bottom / right, as the layers pad.
template <class N>
std::vector<std::int64_t> same_pads(int k, int stride) {
  using In = typename N::in_shape;
  using Out = typename N::out_shape;
  auto total = [&](int in, int out) { return std::max((out - 1) * stride + k - in, 0); };
  const int h = total(In::height, Out::height), w = total(In::width, Out::width);
  return {h / 2, w / 2, h - h / 2, w - w / 2};
}

}  // namespace detail

// ---- one specialisation per layer spec -----------------------------------------------------
template <int In, int Out, int K, int Stride, int Pad, bool Bias, class Init>
struct OnnxLayer<Conv<In, Out, K, Stride, Pad, Bias, Init>> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N& node) {
    detail::emit_conv(g, node, In, Out, K, Stride, {Pad, Pad, Pad, Pad}, Bias);
  }
};

template <int In, int Out, int K, int Stride, bool Bias, class Init>
struct OnnxLayer<ConvSame<In, Out, K, Stride, Bias, Init>> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N& node) {
    detail::emit_conv(g, node, In, Out, K, Stride, detail::same_pads<N>(K, Stride), Bias);
  }
};

template <int K, int Stride, int Pad>
struct OnnxLayer<Pool<K, Stride, Pad>> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N&) {
    detail::emit_max_pool<N>(g, K, Stride, {Pad, Pad, Pad, Pad});
  }
};

template <int K, int Stride>
struct OnnxLayer<PoolSame<K, Stride>> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N&) {
    detail::emit_max_pool<N>(g, K, Stride, detail::same_pads<N>(K, Stride));
  }
};

template <int C, int MomentumPermille, int EpsExp10>
struct OnnxLayer<BatchNorm2d<C, MomentumPermille, EpsExp10>> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N& node) {
    g.template ensure_image<typename N::in_shape>();
    const std::size_t c = C, p = node.param_offset, b = node.buffer_offset;
    std::vector<std::string> inputs{g.current, g.parameter("scale", {C}, p, c), g.parameter("B", {C}, p + c, c),
                                    g.parameter("mean", {C}, b, c, true), g.parameter("var", {C}, b + c, c, true)};
    // ONNX's momentum is the weight of the old running value, fernet's that of the new one.
    g.current = g.add_node("BatchNormalization", std::move(inputs),
                           {Attribute::real("epsilon", static_cast<float>(std::pow(10.0, EpsExp10))),
                            Attribute::real("momentum", 1.f - MomentumPermille / 1000.f)});
  }
};

template <int In, int Out, bool Bias, class Init>
struct OnnxLayer<Linear<In, Out, Bias, Init>> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N& node) {
    g.ensure_flat();
    const std::size_t weights = static_cast<std::size_t>(In) * Out;
    std::vector<std::string> inputs{g.current, g.parameter("weight", {Out, In}, node.param_offset, weights)};
    if (Bias) inputs.push_back(g.parameter("bias", {Out}, node.param_offset + weights, static_cast<std::size_t>(Out)));
    // Y = X W^T + b, W stored Out x In as in PyTorch.
    g.current = g.add_node("Gemm", std::move(inputs), {Attribute::integer("transB", 1)});
  }
};

template <>
struct OnnxLayer<ReLU> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N&) {
    g.apply("Relu");
  }
};

// Dropout is the identity at inference, Identity is the identity: no node.
template <float P>
struct OnnxLayer<Dropout<P>> {
  template <class N>
  static void emit(detail::GraphBuilder&, const N&) {}
};
template <>
struct OnnxLayer<Identity> {
  template <class N>
  static void emit(detail::GraphBuilder&, const N&) {}
};

template <>
struct OnnxLayer<Flatten> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N&) {
    g.ensure_flat();
  }
};

template <>
struct OnnxLayer<GlobalAvgPool> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N&) {
    g.template ensure_image<typename N::in_shape>();
    g.apply("GlobalAveragePool");
  }
};

// fernet's LogSoftmax normalises over all C*H*W values of a sample: over axis 1 of the flat form.
template <>
struct OnnxLayer<LogSoftmax> {
  template <class N>
  static void emit(detail::GraphBuilder& g, const N&) {
    g.ensure_flat();
    g.apply("LogSoftmax", {Attribute::integer("axis", 1)});
  }
};

// ---- the model ------------------------------------------------------------------------------
// Whether the network's output is log-probabilities (it ends in LogSoftmax) or logits.
template <class Net>
inline constexpr bool ends_in_log_softmax = false;
template <class In, class... Ls>
inline constexpr bool ends_in_log_softmax<Sequential<In, Ls...>> =
    std::is_same_v<std::tuple_element_t<sizeof...(Ls) - 1, std::tuple<Ls...>>, LogSoftmax>;

namespace detail {
inline std::string join(const std::vector<std::string>& items) {
  std::string s;
  for (const auto& item : items) s += (s.empty() ? "" : ",") + item;
  return s;
}
inline std::string float_text(float v) {
  char buf[32];
  std::snprintf(buf, sizeof buf, "%.9g", static_cast<double>(v));
  return buf;
}
}  // namespace detail

// The model and where each of its weights lies in the network (what import.hpp reads back).
template <class Net>
std::pair<Model, std::vector<detail::Binding>> build_model_bound(const Net& net, const ExportOptions& options = {}) {
  using InShape = typename network_traits<Net>::input_shape;
  using OutShape = typename Net::output_shape;
  detail::GraphBuilder g(net.parameters(), net.buffers());
  Model& m = g.model;
  m.graph_name = options.model_name;
  m.producer_version = version_string;
  const Dimension batch{0, "batch"};

  std::string input_doc;
  g.current = "input";
  if (options.preprocessing) {
    const Preprocessing pre = *options.preprocessing;
    m.input = {"input", {batch, {1, ""}, {InShape::height, ""}, {InShape::width, ""}}, ""};
    input_doc = "raw grey pixels 0..255, N x 1 x " + std::to_string(InShape::height) + " x " +
                std::to_string(InShape::width) + "; the graph computes pixel * " + detail::float_text(pre.scale) +
                " + " + detail::float_text(pre.offset) +
                (InShape::channels > 1 ? ", replicated to " + std::to_string(InShape::channels) + " channels" : "");
    g.enter("preprocess");
    if (pre.scale != 1.f) g.apply("Mul", {}, {g.constant("scale", {1}, {pre.scale})});
    if (pre.offset != 0.f) g.apply("Add", {}, {g.constant("offset", {1}, {pre.offset})});
    if (InShape::channels > 1)
      g.current =
          g.add_node("Concat", std::vector<std::string>(InShape::channels, g.current), {Attribute::integer("axis", 1)});
    g.leave();
  } else {
    m.input = {"input", {batch, {InShape::channels, ""}, {InShape::height, ""}, {InShape::width, ""}}, ""};
    input_doc = "the network's input as it is, N x " + std::to_string(InShape::channels) + " x " +
                std::to_string(InShape::height) + " x " + std::to_string(InShape::width) +
                " (no preprocessing in the graph)";
  }
  m.input.doc = input_doc;

  detail::ExportVisitor visitor(g);
  walk_network<Net>(visitor);

  // The last tensor becomes the graph's output.
  if (g.current == "input") g.apply("Identity");
  for (Node& n : m.nodes)
    for (auto* names : {&n.inputs, &n.outputs})
      for (std::string& s : *names)
        if (s == g.current) s = "output";
  const std::string output_kind = ends_in_log_softmax<Net> ? "log-probabilities" : "logits (scores)";
  if (g.rank == 2) m.output = {"output", {batch, {static_cast<std::int64_t>(OutShape::size), ""}}, output_kind};
  else
    m.output = {
        "output", {batch, {OutShape::channels, ""}, {OutShape::height, ""}, {OutShape::width, ""}}, output_kind};

  m.doc = "fernet " + std::string(version_string) + ": " + Net::signature();
  m.metadata = {{"fernet.network", Net::signature()}, {"fernet.input", input_doc}, {"fernet.output", output_kind}};
  if (!options.class_names.empty()) m.metadata.emplace_back("class_names", detail::join(options.class_names));
  m.metadata.insert(m.metadata.end(), options.metadata.begin(), options.metadata.end());
  return {std::move(m), std::move(g.bindings)};
}

template <class Net>
Model build_model(const Net& net, const ExportOptions& options = {}) {
  return build_model_bound(net, options).first;
}

// The .onnx file's bytes.
template <class Net>
std::string to_onnx(const Net& net, const ExportOptions& options = {}) {
  return serialize(build_model(net, options));
}

// Writes the model to path atomically (the old file, if any, stays until the new one is whole).
template <class Net>
void export_model(const Net& net, const std::string& path, const ExportOptions& options = {}) {
  const std::string bytes = to_onnx(net, options);
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
      throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  });
}

}  // namespace fernet::onnx
