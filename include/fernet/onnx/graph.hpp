#pragma once
// An ONNX model in memory (nodes, initializers, the graph's input and output, metadata) and its
// serialisation to the ONNX protobuf format (onnx/onnx.proto, whose field numbers are below),
// written with the small wire-format writer of protobuf.hpp.
#include <cstdint>
#include <span>
#include <string>
#include <utility>
#include <vector>

#include "protobuf.hpp"

namespace fernet::onnx {

// opset 13 has every operator the exporter emits in its current form (Gemm with an optional C,
// Reshape with its shape as an input) and is read by onnxruntime and OpenCV's DNN module alike;
// IR version 7 is the one that goes with it.
inline constexpr std::int64_t opset_version = 13;
inline constexpr std::int64_t ir_version = 7;

struct Attribute {
  enum class Kind { integer, integers, real } kind = Kind::integer;
  std::string name;
  std::int64_t i = 0;
  std::vector<std::int64_t> ints;
  float f = 0.f;

  static Attribute integer(std::string n, std::int64_t v) { return {Kind::integer, std::move(n), v, {}, 0.f}; }
  static Attribute integers(std::string n, std::vector<std::int64_t> v) {
    return {Kind::integers, std::move(n), 0, std::move(v), 0.f};
  }
  static Attribute real(std::string n, float v) { return {Kind::real, std::move(n), 0, {}, v}; }
};

struct Node {
  std::string op_type, name;
  std::vector<std::string> inputs, outputs;
  std::vector<Attribute> attributes;
};

// A constant tensor: float32 weights or int64 shapes, stored as raw little-endian bytes.
struct Initializer {
  enum class Type : std::int64_t { float32 = 1, int64 = 7 };
  std::string name;
  std::vector<std::int64_t> dims;
  Type type = Type::float32;
  std::string raw;

  static Initializer floats(std::string n, std::vector<std::int64_t> dims, std::span<const float> v) {
    return {std::move(n), std::move(dims), Type::float32,
            std::string(reinterpret_cast<const char*>(v.data()), v.size_bytes())};
  }
  static Initializer int64s(std::string n, std::span<const std::int64_t> v) {
    return {std::move(n),
            {static_cast<std::int64_t>(v.size())},
            Type::int64,
            std::string(reinterpret_cast<const char*>(v.data()), v.size_bytes())};
  }
};

// A graph input or output: float32 with these dimensions; an empty dim_param is a fixed size,
// a named one (e.g. "batch") a dimension that varies at run time.
struct Dimension {
  std::int64_t value = 0;
  std::string param;
};
struct ValueInfo {
  std::string name;
  std::vector<Dimension> dims;
  std::string doc;
};

struct Model {
  std::string graph_name, doc;
  std::vector<Node> nodes;
  std::vector<Initializer> initializers;
  ValueInfo input, output;
  std::vector<std::pair<std::string, std::string>> metadata;
  std::string producer_version;
};

namespace detail {
namespace pb = protobuf;

inline pb::Message encode(const Attribute& a) {
  // AttributeProto: name = 1, f = 2, i = 3, floats = 7, ints = 8, type = 20.
  enum AttributeType : std::int64_t { FLOAT = 1, INT = 2, INTS = 7 };
  pb::Message m;
  m.string(1, a.name);
  switch (a.kind) {
    case Attribute::Kind::integer:
      m.varint(3, a.i).varint(20, INT);
      break;
    case Attribute::Kind::integers:
      m.packed_varints(8, a.ints).varint(20, INTS);
      break;
    case Attribute::Kind::real:
      m.fixed_float(2, a.f).varint(20, FLOAT);
      break;
  }
  return m;
}

inline pb::Message encode(const Node& n) {
  // NodeProto: input = 1, output = 2, name = 3, op_type = 4, attribute = 5.
  pb::Message m;
  for (const auto& s : n.inputs) m.string(1, s);
  for (const auto& s : n.outputs) m.string(2, s);
  m.string(3, n.name).string(4, n.op_type);
  for (const auto& a : n.attributes) m.message(5, encode(a));
  return m;
}

inline pb::Message encode(const Initializer& t) {
  // TensorProto: dims = 1, data_type = 2, name = 8, raw_data = 9.
  pb::Message m;
  m.packed_varints(1, t.dims).varint(2, static_cast<std::int64_t>(t.type)).string(8, t.name).bytes(9, t.raw);
  return m;
}

inline pb::Message encode(const ValueInfo& v) {
  // ValueInfoProto { name = 1, type = 2, doc_string = 3 }; TypeProto { tensor_type = 1 };
  // TypeProto.Tensor { elem_type = 1, shape = 2 }; TensorShapeProto { dim = 1 };
  // Dimension { dim_value = 1, dim_param = 2 }.
  pb::Message shape;
  for (const Dimension& d : v.dims) {
    pb::Message dim;
    if (d.param.empty()) dim.varint(1, d.value);
    else dim.string(2, d.param);
    shape.message(1, dim);
  }
  pb::Message tensor;
  tensor.varint(1, static_cast<std::int64_t>(Initializer::Type::float32)).message(2, shape);
  pb::Message type;
  type.message(1, tensor);
  pb::Message m;
  m.string(1, v.name).message(2, type);
  if (!v.doc.empty()) m.string(3, v.doc);
  return m;
}
}  // namespace detail

// The bytes of a .onnx file.
inline std::string serialize(const Model& model) {
  namespace pb = protobuf;
  using detail::encode;
  // GraphProto: node = 1, name = 2, initializer = 5, doc_string = 10, input = 11, output = 12.
  pb::Message graph;
  for (const Node& n : model.nodes) graph.message(1, encode(n));
  graph.string(2, model.graph_name);
  for (const Initializer& t : model.initializers) graph.message(5, encode(t));
  if (!model.doc.empty()) graph.string(10, model.doc);
  graph.message(11, encode(model.input)).message(12, encode(model.output));

  // ModelProto: ir_version = 1, producer_name = 2, producer_version = 3, graph = 7,
  // opset_import = 8 (OperatorSetIdProto { domain = 1, version = 2 }), metadata_props = 14
  // (StringStringEntryProto { key = 1, value = 2 }). The default domain "" is ai.onnx.
  pb::Message opset;
  opset.string(1, "").varint(2, opset_version);
  pb::Message m;
  m.varint(1, ir_version).string(2, "fernet").string(3, model.producer_version).message(7, graph).message(8, opset);
  for (const auto& [key, value] : model.metadata) {
    pb::Message entry;
    entry.string(1, key).string(2, value);
    m.message(14, entry);
  }
  return m.data();
}

}  // namespace fernet::onnx
