// ONNX import (onnx/import.hpp): an exported file gives the weights back bit for bit, a Gemm
// stored transposed (transB = 0) and Constant-node weights are read, and every mismatch or
// damaged file is refused with a message that names the problem, leaving the network as it was.
// (The PyTorch exchange both ways is tests/onnx/torch_onnx.py, in CTest's onnx.export_readers.)
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <memory>
#include <string>
#include <vector>

#include <fernet/networks.hpp>
#include <fernet/onnx/export.hpp>
#include <fernet/onnx/import.hpp>

using namespace fernet;

namespace {
// Every kind of weight layer the importer binds: Conv with and without bias, 'SAME' padding,
// batch norm (parameters and buffers), Linear.
using Small = Sequential<Input<1, 12, 12>, Conv<1, 4, 3>, BatchNorm2d<4>, ReLU, Pool<2>,
                         ConvSame<4, 6, 2, 1, false>, ReLU, Flatten, Linear<150, 5>>;
using Other = Sequential<Input<1, 12, 12>, Conv<1, 4, 3>, BatchNorm2d<4>, ReLU, Pool<2>,
                         ConvSame<4, 6, 2, 1, false>, ReLU, Flatten, Linear<150, 3>>;

std::vector<float> state(const auto& net) {
  std::vector<float> s(net.parameters().begin(), net.parameters().end());
  s.insert(s.end(), net.buffers().begin(), net.buffers().end());
  return s;
}
std::unique_ptr<Small> seeded(std::uint64_t seed) {
  auto net = std::make_unique<Small>(seed);
  Rng rng(seed + 5);
  for (float& b : net->buffers()) b = rng.uniform(0.5f, 1.5f);  // running statistics other than 0 and 1
  return net;
}
void require_refused(const std::string& bytes, const std::string& message) {
  auto net = seeded(9);
  const std::vector<float> before = state(*net);
  CHECK_THROWS_WITH_AS(onnx::load_onnx_bytes(*net, bytes, "m.onnx"), doctest::Contains(message.c_str()), onnx::ImportError);
  CHECK(state(*net) == before);
}
}  // namespace

TEST_CASE("onnx import: an exported network comes back bit for bit") {
  const auto net = seeded(1);
  auto back = seeded(2);
  REQUIRE(state(*back) != state(*net));
  onnx::load_onnx_bytes(*back, onnx::to_onnx(*net), "small.onnx");
  CHECK(state(*back) == state(*net));
  // With the preprocessing in the graph (its constants are not weights).
  auto again = seeded(3);
  onnx::ExportOptions o;
  o.preprocessing = onnx::Preprocessing{1.f / 255.f, -0.5f};
  onnx::load_onnx_bytes(*again, onnx::to_onnx(*net, o), "small.onnx");
  CHECK(state(*again) == state(*net));
}

TEST_CASE("onnx import: a Gemm stored In x Out (transB = 0) and weights in Constant nodes") {
  const auto net = seeded(1);
  onnx::Model m = onnx::build_model(*net);
  for (onnx::Node& n : m.nodes) {
    if (n.op_type != "Gemm") continue;
    for (onnx::Attribute& a : n.attributes)
      if (a.name == "transB") a.i = 0;
    auto w = std::find_if(m.initializers.begin(), m.initializers.end(),
                          [&](const onnx::Initializer& t) { return t.name == n.inputs[1]; });
    REQUIRE(w != m.initializers.end());
    std::vector<float> v(w->raw.size() / 4), t(v.size());
    std::memcpy(v.data(), w->raw.data(), w->raw.size());
    const int out = static_cast<int>(w->dims[0]), in = static_cast<int>(w->dims[1]);
    for (int o = 0; o < out; ++o)
      for (int c = 0; c < in; ++c) t[c * out + o] = v[o * in + c];
    *w = onnx::Initializer::floats(w->name, {in, out}, t);
  }
  auto back = seeded(2);
  onnx::load_onnx_bytes(*back, onnx::serialize(m), "t.onnx");
  CHECK(state(*back) == state(*net));
}

TEST_CASE("onnx import: another network, another shape, a wrong type or epsilon are refused") {
  const auto net = seeded(1);
  // A network whose last layer differs: the shapes are named.
  require_refused(onnx::to_onnx(Other(1)), "has shape [3,150], the network's is [5,150]");
  // Another architecture: the operators differ (or, below, their count).
  require_refused(onnx::to_onnx(networks::LinearMLP(1)), "Gemm): the network has Conv here");
  require_refused(onnx::to_onnx(networks::NetAdam(1)), "the file has 7 layers with weights");

  onnx::Model m = onnx::build_model(*net);
  SUBCASE("a weight of another data type") {
    const std::int64_t ints[] = {1, 2, 3, 4};
    for (auto& t : m.initializers)
      if (t.name.ends_with("bias")) {
        t = onnx::Initializer::int64s(t.name, ints);
        break;
      }
    require_refused(onnx::serialize(m), "not float32");
  }
  SUBCASE("another batch-norm epsilon") {
    for (auto& n : m.nodes)
      for (auto& a : n.attributes)
        if (a.name == "epsilon") a.f = 1e-3f;
    require_refused(onnx::serialize(m), "epsilon");
  }
  SUBCASE("other strides") {
    for (auto& n : m.nodes)
      for (auto& a : n.attributes)
        if (n.op_type == "Conv" && a.name == "strides") a.ints = {2, 2};
    require_refused(onnx::serialize(m), "strides [2,2], the network's [1,1]");
  }
  SUBCASE("a missing bias") {
    for (auto& n : m.nodes)
      if (n.op_type == "Conv" && n.inputs.size() == 3) {
        n.inputs.pop_back();
        break;
      }
    require_refused(onnx::serialize(m), "(bias) is missing");
  }
  SUBCASE("a weight computed by a node") {
    for (auto& n : m.nodes)
      if (n.op_type == "Gemm") n.inputs[1] = n.inputs[0];
    require_refused(onnx::serialize(m), "is computed, not a stored weight");
  }
}

TEST_CASE("onnx import: damaged files give an error, never a crash or a partial import") {
  const auto net = seeded(1);
  const std::string bytes = onnx::to_onnx(*net);
  require_refused("", "no graph");
  require_refused("not an onnx file at all", "m.onnx");
  // Cut anywhere: a clear error (the last bytes are metadata, after the graph, so stop short).
  for (std::size_t cut : {std::size_t{1}, std::size_t{7}, bytes.size() / 3, bytes.size() / 2, bytes.size() * 3 / 4}) {
    CAPTURE(cut);
    require_refused(bytes.substr(0, cut), "m.onnx");
  }
  // Flipped bytes: refused or (where the flip lands in a weight's value) imported, never a crash.
  Rng rng(11);
  int refused = 0;
  for (int trial = 0; trial < 300; ++trial) {
    std::string damaged = bytes;
    damaged[rng.below(damaged.size())] ^= static_cast<char>(1 + rng.below(255));
    auto into = seeded(9);
    try {
      onnx::load_onnx_bytes(*into, damaged, "m.onnx");
    } catch (const onnx::ImportError&) { ++refused; }
  }
  CHECK(refused > 0);
}

TEST_CASE("onnx import: a file that is not there or not a file") {
  auto net = seeded(1);
  CHECK_THROWS_WITH_AS(onnx::load_onnx(*net, "/nonexistent/m.onnx"), doctest::Contains("cannot open"),
                       onnx::ImportError);
  CHECK_THROWS_WITH_AS(onnx::load_onnx(*net, "/tmp"), doctest::Contains("not a regular file"), onnx::ImportError);
}

TEST_CASE("onnx import: weights held by Constant nodes, as older exporters write them") {
  using Tiny = Sequential<Input<1, 2, 2>, Flatten, Linear<4, 2>>;
  namespace pb = onnx::protobuf;
  const std::vector<float> w = {1, 2, 3, 4, 5, 6, 7, 8}, b = {-1, 1};
  auto constant = [](const std::string& out, std::vector<std::int64_t> dims, const std::vector<float>& v) {
    pb::Message tensor;
    tensor.packed_varints(1, dims).varint(2, 1).float_bytes(9, v);
    pb::Message attribute;
    attribute.string(1, "value").message(5, tensor).varint(20, 4);  // type TENSOR
    pb::Message node;
    node.string(2, out).string(3, out + "_node").string(4, "Constant").message(5, attribute);
    return node;
  };
  pb::Message trans_b;
  trans_b.string(1, "transB").varint(3, 1).varint(20, 2);
  pb::Message gemm;
  gemm.string(1, "input").string(1, "W").string(1, "B").string(2, "output").string(3, "fc").string(4, "Gemm").message(
      5, trans_b);
  pb::Message graph;
  graph.message(1, constant("W", {2, 4}, w)).message(1, constant("B", {2}, b)).message(1, gemm).string(2, "tiny");
  pb::Message model;
  model.varint(1, 7).message(7, graph);
  auto net = std::make_unique<Tiny>(3);
  onnx::load_onnx_bytes(*net, model.data(), "tiny.onnx");
  std::vector<float> want = w;
  want.insert(want.end(), b.begin(), b.end());
  CHECK(std::vector<float>(net->parameters().begin(), net->parameters().end()) == want);
}
