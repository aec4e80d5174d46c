#pragma once
// ONNX import of weights into a fernet network, the inverse of export.hpp:
//
//   auto net = std::make_unique<fernet::networks::NetAdam>();
//   fernet::onnx::load_onnx(*net, "model.onnx");   // fernet's export, or PyTorch's torch.onnx.export
//
// The network type says the architecture; the file gives the weights. The exporter's walk of
// the network (export.hpp) lists, in order, the nodes that carry weights (Conv, Gemm,
// BatchNormalization) and where each weight lies in the parameter or buffer block. The file's
// nodes of those kinds, in graph order, are matched one to one: same operator, same kernel,
// strides, pads and group, the same weight shapes (Gemm's weight may be stored transposed,
// transB = 0), a batch-norm epsilon within 0.1% of the layer's. Weights are initializers or
// Constant nodes, float32, raw_data or float_data. Anything else (another count of layers, a
// missing bias, external data, another type) is refused with a message that names the node and
// the problem, and the network is left as it was. Nodes without weights (Relu, MaxPool, the
// preprocessing, Flatten, LogSoftmax, ...) are not compared: the type is the architecture.
#include <algorithm>
#include <cerrno>
#include <cmath>
#include <cstdio>
#include <cstring>
#include <map>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "../read_file.hpp"
#include "export.hpp"
#include "protobuf_reader.hpp"

namespace fernet::onnx {

struct ImportError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {

struct FileTensor {
  std::vector<std::int64_t> dims;
  std::uint64_t type = 0;     // ONNX's data type; only float32 (1) is decoded
  std::vector<float> values;  // float32 tensors only
};
struct FileNode {
  std::string op_type, name;
  std::vector<std::string> inputs;
  std::map<std::string, std::vector<std::int64_t>> ints;  // integer and integer-list attributes
  std::map<std::string, float> reals;
};
struct FileGraph {
  std::vector<FileNode> nodes;
  std::map<std::string, FileTensor> tensors;  // initializers and Constant nodes' values
};

// ONNX's field numbers (onnx/onnx.proto), the ones read here.
enum : int {
  model_graph = 7,
  graph_node = 1,
  graph_initializer = 5,
  node_input = 1,
  node_output = 2,
  node_name = 3,
  node_op_type = 4,
  node_attribute = 5,
  attr_name = 1,
  attr_f = 2,
  attr_i = 3,
  attr_t = 5,
  attr_ints = 8,
  tensor_dims = 1,
  tensor_data_type = 2,
  tensor_float_data = 4,
  tensor_name = 8,
  tensor_raw_data = 9,
  tensor_external_data = 13,
  tensor_data_location = 14,
};
inline constexpr std::uint64_t float32_type = 1;

inline std::pair<std::string, FileTensor> parse_tensor(std::string_view bytes, const std::string& where) {
  protobuf::Reader r(bytes, where);
  std::string name;
  FileTensor t;
  std::uint64_t type = 0;
  std::string_view raw;
  bool has_raw = false;
  while (!r.done()) {
    const protobuf::Field f = r.next();
    switch (f.number) {
      case tensor_dims: protobuf::append_int64s(f, t.dims, where); break;
      case tensor_data_type: type = f.integer; break;
      case tensor_float_data: protobuf::append_floats(f, t.values, where); break;
      case tensor_name: name = std::string(f.bytes); break;
      case tensor_raw_data:
        raw = f.bytes;
        has_raw = true;
        break;
      case tensor_external_data:
      case tensor_data_location:
        if (f.number == tensor_external_data || f.integer != 0)
          throw ImportError(where + ": tensor '" + name + "' keeps its data in an external file, which is not read");
        break;
      default: break;
    }
  }
  const std::string label = where + ": tensor '" + name + "'";
  t.type = type;
  // Other types (int64 shapes of Reshape, ...) are kept undecoded: only weights must be float32.
  if (type != float32_type) {
    t.values.clear();
    return {name, std::move(t)};
  }
  std::int64_t count = 1;
  for (const std::int64_t d : t.dims) {
    if (d < 0 || d > (std::int64_t{1} << 31) || (d > 0 && count > (std::int64_t{1} << 40) / d))
      throw ImportError(label + " has an impossible dimension " + std::to_string(d));
    count *= d;
  }
  if (has_raw) {
    if (raw.size() != static_cast<std::size_t>(count) * sizeof(float))
      throw ImportError(label + " has " + std::to_string(raw.size()) + " bytes of data for " + std::to_string(count) +
                        " floats");
    t.values.resize(static_cast<std::size_t>(count));
    std::memcpy(t.values.data(), raw.data(), raw.size());
  } else if (t.values.size() != static_cast<std::size_t>(count)) {
    throw ImportError(label + " has " + std::to_string(t.values.size()) + " floats for its shape's " +
                      std::to_string(count));
  }
  return {name, std::move(t)};
}

inline FileNode parse_node(std::string_view bytes, const std::string& where, FileGraph& g) {
  protobuf::Reader r(bytes, where);
  FileNode n;
  std::vector<std::string> outputs;
  std::optional<FileTensor> constant;
  while (!r.done()) {
    const protobuf::Field f = r.next();
    if (f.number == node_input) n.inputs.emplace_back(f.bytes);
    else if (f.number == node_output) outputs.emplace_back(f.bytes);
    else if (f.number == node_name) n.name = std::string(f.bytes);
    else if (f.number == node_op_type) n.op_type = std::string(f.bytes);
    else if (f.number == node_attribute) {
      protobuf::Reader a(f.bytes, where + ": attribute");
      std::string name;
      std::vector<std::int64_t> ints;
      std::optional<float> real;
      std::string_view tensor;
      while (!a.done()) {
        const protobuf::Field af = a.next();
        if (af.number == attr_name) name = std::string(af.bytes);
        else if (af.number == attr_i) ints.push_back(static_cast<std::int64_t>(af.integer));
        else if (af.number == attr_ints) protobuf::append_int64s(af, ints, where);
        else if (af.number == attr_f && af.wire_type == 5) {
          const auto bits = static_cast<std::uint32_t>(af.integer);
          float v;
          std::memcpy(&v, &bits, sizeof v);
          real = v;
        } else if (af.number == attr_t) tensor = af.bytes;
      }
      if (real) n.reals[name] = *real;
      else if (!ints.empty()) n.ints[name] = std::move(ints);
      if (name == "value" && !tensor.empty()) constant = parse_tensor(tensor, where).second;
    }
  }
  // A Constant node's value is a weight like an initializer (older exporters write them so).
  if (n.op_type == "Constant" && constant && outputs.size() == 1) g.tensors[outputs[0]] = std::move(*constant);
  return n;
}

inline FileGraph parse_model(std::string_view bytes, const std::string& source) {
  FileGraph g;
  protobuf::Reader model(bytes, source);
  bool has_graph = false;
  while (!model.done()) {
    const protobuf::Field f = model.next();
    if (f.number != model_graph || f.wire_type != 2) continue;
    has_graph = true;
    protobuf::Reader graph(f.bytes, source + ": graph");
    while (!graph.done()) {
      const protobuf::Field gf = graph.next();
      if (gf.number == graph_node && gf.wire_type == 2)
        g.nodes.push_back(parse_node(gf.bytes, source + ": node " + std::to_string(g.nodes.size()), g));
      else if (gf.number == graph_initializer && gf.wire_type == 2) {
        auto [name, t] = parse_tensor(gf.bytes, source + ": initializer");
        g.tensors[name] = std::move(t);
      }
    }
  }
  if (!has_graph) throw ImportError(source + ": not an ONNX model (no graph)");
  return g;
}

inline bool carries_weights(const std::string& op) {
  return op == "Conv" || op == "Gemm" || op == "BatchNormalization" || op == "MatMul";
}

inline std::string dims_text(const std::vector<std::int64_t>& d) {
  std::string s = "[";
  for (std::size_t i = 0; i < d.size(); ++i) s += (i ? "," : "") + std::to_string(d[i]);
  return s + "]";
}

// An integer-list attribute with ONNX's default when absent.
inline std::vector<std::int64_t> ints_or(const std::map<std::string, std::vector<std::int64_t>>& m,
                                         const std::string& key, std::vector<std::int64_t> fallback) {
  const auto it = m.find(key);
  return it == m.end() ? fallback : it->second;
}

}  // namespace detail

// Copies the weights of an ONNX model (its bytes, `source` naming it in messages) into net.
template <class Net>
void load_onnx_bytes(Net& net, std::string_view bytes, const std::string& source) {
  detail::FileGraph file;
  try {
    file = detail::parse_model(bytes, source);
  } catch (const protobuf::ParseError& e) {
    throw ImportError(std::string(e.what()) + " (not a whole ONNX file?)");
  }
  const auto [reference, bindings] = build_model_bound(net, {});
  std::map<std::string, const detail::Binding*> bound;
  for (const auto& b : bindings) bound[b.tensor] = &b;

  std::vector<const Node*> want;
  for (const Node& n : reference.nodes)
    if (std::any_of(n.inputs.begin(), n.inputs.end(), [&](const std::string& i) { return bound.count(i) != 0; }))
      want.push_back(&n);
  std::vector<const detail::FileNode*> have;
  for (const auto& n : file.nodes)
    if (detail::carries_weights(n.op_type) &&
        std::any_of(n.inputs.begin() + std::min<std::size_t>(1, n.inputs.size()), n.inputs.end(),
                    [&](const std::string& i) { return file.tensors.count(i) != 0; }))
      have.push_back(&n);
  if (want.size() != have.size())
    throw ImportError(source + ": the file has " + std::to_string(have.size()) +
                      " layers with weights (Conv, Gemm, MatMul, BatchNormalization) but the network has " +
                      std::to_string(want.size()) + " (" + Net::shape_string() + ")");

  // Everything is checked and gathered first; the network changes only when all of it fits.
  std::vector<float> params(net.parameters().begin(), net.parameters().end()),
      buffers(net.buffers().begin(), net.buffers().end());
  for (std::size_t k = 0; k < want.size(); ++k) {
    const Node& w = *want[k];
    const detail::FileNode& h = *have[k];
    const std::string where =
        source + ": layer " + std::to_string(k + 1) + " (node '" + h.name + "', " + h.op_type + ")";
    if (w.op_type != h.op_type)
      throw ImportError(where + ": the network has " + w.op_type + " here");
    if (w.op_type == "Conv") {
      for (const char* key : {"strides", "pads", "dilations"}) {
        const std::vector<std::int64_t> ones(key == std::string("pads") ? 4 : 2, key == std::string("pads") ? 0 : 1);
        std::map<std::string, std::vector<std::int64_t>> mine;
        for (const Attribute& a : w.attributes)
          if (a.kind == Attribute::Kind::integers) mine[a.name] = a.ints;
        if (detail::ints_or(h.ints, key, ones) != detail::ints_or(mine, key, ones))
          throw ImportError(where + ": " + key + " " + detail::dims_text(detail::ints_or(h.ints, key, ones)) +
                            ", the network's " + detail::dims_text(detail::ints_or(mine, key, ones)));
      }
      if (detail::ints_or(h.ints, "group", {1}) != std::vector<std::int64_t>{1})
        throw ImportError(where + ": grouped convolution (group " +
                          detail::dims_text(detail::ints_or(h.ints, "group", {1})) + ") is not a fernet layer");
    }
    if (w.op_type == "BatchNormalization") {
      float mine = 1e-5f;
      for (const Attribute& a : w.attributes)
        if (a.name == "epsilon") mine = a.f;
      const float theirs = h.reals.count("epsilon") ? h.reals.at("epsilon") : 1e-5f;
      if (!(std::abs(theirs - mine) <= 1e-3f * mine))
        throw ImportError(where + ": epsilon " + std::to_string(theirs) + ", the network's " + std::to_string(mine));
    }
    const bool transposed = w.op_type == "Gemm" && detail::ints_or(h.ints, "transB", {0}) == std::vector<std::int64_t>{0};
    if (w.op_type == "Gemm" && (detail::ints_or(h.ints, "transA", {0}) != std::vector<std::int64_t>{0}))
      throw ImportError(where + ": transA = 1 is not a fernet Linear layer");
    for (std::size_t i = 1; i < w.inputs.size(); ++i) {
      const auto b = bound.find(w.inputs[i]);
      if (b == bound.end()) continue;
      const detail::Binding& bind = *b->second;
      if (i >= h.inputs.size() || h.inputs[i].empty())
        throw ImportError(where + ": input " + std::to_string(i) + " (" + bind.what + ") is missing");
      const auto t = file.tensors.find(h.inputs[i]);
      if (t == file.tensors.end())
        throw ImportError(where + ": input " + std::to_string(i) + " ('" + h.inputs[i] +
                          "') is computed, not a stored weight");
      if (t->second.type != detail::float32_type)
        throw ImportError(where + ": " + bind.what + " '" + h.inputs[i] + "' has data type " +
                          std::to_string(t->second.type) + ", not float32 (1)");
      std::vector<std::int64_t> dims = t->second.dims;
      const bool flip = transposed && i == 1;
      if (flip) std::reverse(dims.begin(), dims.end());
      if (dims != bind.dims)
        throw ImportError(where + ": " + bind.what + " '" + h.inputs[i] + "' has shape " +
                          detail::dims_text(t->second.dims) + (flip ? " (transB = 0)" : "") + ", the network's is " +
                          detail::dims_text(bind.dims));
      float* dst = (bind.from_buffers ? buffers : params).data() + bind.offset;
      const std::vector<float>& src = t->second.values;
      if (flip) {  // stored In x Out: fernet's Linear holds Out x In
        const std::size_t out = static_cast<std::size_t>(bind.dims[0]), in = static_cast<std::size_t>(bind.dims[1]);
        for (std::size_t o = 0; o < out; ++o)
          for (std::size_t c = 0; c < in; ++c) dst[o * in + c] = src[c * out + o];
      } else {
        std::copy(src.begin(), src.end(), dst);
      }
    }
  }
  std::copy(params.begin(), params.end(), net.parameters().begin());
  std::copy(buffers.begin(), buffers.end(), net.buffers().begin());
}

// An .onnx file is read whole; protobuf itself caps a message at 2 GiB.
inline constexpr std::uint64_t max_onnx_bytes = std::uint64_t{2} << 30;

template <class Net>
void load_onnx(Net& net, const std::string& path) {
  std::string bytes;
  try {
    bytes = read_regular_file(path, max_onnx_bytes, "an ONNX model");
  } catch (const FileReadError& e) { throw ImportError(e.what()); }
  load_onnx_bytes(net, bytes, path);
}

}  // namespace fernet::onnx
