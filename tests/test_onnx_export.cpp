// fernet::onnx without a reader: the protobuf wire format byte by byte, and the graphs the
// exporter builds (operators, pads, weights taken from the right slices). tests/onnx/ reads
// the files back with onnxruntime and OpenCV.
#include <doctest/doctest.h>

#include <algorithm>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <map>
#include <string>
#include <vector>

#include <fernet/networks.hpp>
#include <fernet/onnx/export.hpp>

using namespace fernet;
using namespace fernet::networks;

namespace {

std::vector<std::string> op_types(const onnx::Model& m) {
  std::vector<std::string> ops;
  for (const auto& n : m.nodes) ops.push_back(n.op_type);
  return ops;
}

const onnx::Initializer& initializer(const onnx::Model& m, const std::string& name) {
  for (const auto& t : m.initializers)
    if (t.name == name) return t;
  FAIL("no initializer " << name);
  throw std::logic_error("unreachable");
}

std::vector<float> floats_of(const onnx::Initializer& t) {
  std::vector<float> v(t.raw.size() / sizeof(float));
  std::memcpy(v.data(), t.raw.data(), t.raw.size());
  return v;
}

std::vector<std::int64_t> ints_attribute(const onnx::Node& n, const std::string& name) {
  for (const auto& a : n.attributes)
    if (a.name == name) return a.ints;
  return {};
}

std::size_t count(const std::vector<std::string>& ops, const std::string& op) {
  return static_cast<std::size_t>(std::count(ops.begin(), ops.end(), op));
}

}  // namespace

TEST_CASE("onnx protobuf writer: the wire format") {
  namespace pb = onnx::protobuf;
  CHECK(pb::Message().varint(1, 300).data() == std::string("\x08\xAC\x02", 3));  // protobuf docs' example
  CHECK(pb::Message().varint(1, -1).data().size() == 11);                        // negatives: ten bytes
  CHECK(pb::Message().string(2, "testing").data() == std::string("\x12\x07testing", 9));
  CHECK(pb::Message().fixed_float(2, 1.f).data() == std::string("\x15\x00\x00\x80\x3F", 5));
  const std::int64_t v[] = {3, 270, 86942};
  CHECK(pb::Message().packed_varints(4, v).data() == std::string("\x22\x06\x03\x8E\x02\x9E\xA7\x05", 8));
  pb::Message inner;
  inner.varint(1, 150);
  CHECK(pb::Message().message(3, inner).data() == std::string("\x1A\x03\x08\x96\x01", 5));
}

TEST_CASE("onnx export: NetAdam as Conv, Relu, MaxPool, Gemm, LogSoftmax with its own weights") {
  auto net = std::make_unique<NetAdam>(30);
  onnx::ExportOptions opt;
  opt.class_names = {"a", "b", "c", "d", "e", "f", "g"};
  const onnx::Model m = onnx::build_model(*net, opt);
  // Dropout vanishes; Flatten is explicit; ReLU and Pool stay two nodes although fused in fernet.
  CHECK(op_types(m) == std::vector<std::string>{"Conv", "Relu", "MaxPool", "Conv", "Relu", "MaxPool", "Conv", "Relu",
                                                "MaxPool", "Flatten", "Gemm", "Relu", "Gemm", "Relu", "Gemm", "Relu",
                                                "Gemm", "LogSoftmax"});
  CHECK(m.input.name == "input");
  REQUIRE(m.input.dims.size() == 4);
  CHECK(m.input.dims[0].param == "batch");
  CHECK(m.input.dims[1].value == 1);
  CHECK(m.output.name == "output");
  CHECK(m.nodes.back().outputs[0] == "output");
  CHECK(m.nodes.front().inputs[0] == "input");  // no preprocessing asked for

  std::size_t floats = 0;
  for (const auto& t : m.initializers) floats += t.raw.size() / sizeof(float);
  CHECK(floats == NetAdam::parameter_count);
  // conv2's weights and fc4's bias are the right slices of the parameter block.
  const auto params = net->parameters();
  const std::vector<float> conv2 = floats_of(initializer(m, "3.weight"));
  CHECK(conv2.size() == 64 * 32 * 9);
  CHECK(std::equal(conv2.begin(), conv2.end(), params.begin() + 320));
  const std::vector<float> fc4_bias = floats_of(initializer(m, "19.bias"));
  CHECK(std::equal(fc4_bias.begin(), fc4_bias.end(), params.end() - 7));
  CHECK(initializer(m, "19.weight").dims == std::vector<std::int64_t>{7, 64});

  std::map<std::string, std::string> meta(m.metadata.begin(), m.metadata.end());
  CHECK(meta["class_names"] == "a,b,c,d,e,f,g");
  CHECK(meta["fernet.output"] == "log-probabilities");
  CHECK(meta["fernet.network"] == NetAdam::signature());
}

TEST_CASE("onnx export: TfCNN's preprocessing nodes and TensorFlow-'SAME' pads") {
  auto net = std::make_unique<TfCNN>(1);
  onnx::ExportOptions opt;
  opt.preprocessing = onnx::Preprocessing{1.f / 255.f, 0.f};
  const onnx::Model m = onnx::build_model(*net, opt);
  const auto ops = op_types(m);
  // pixel / 255 (no Add: offset 0), grey to three channels, then the network; logits out.
  REQUIRE(ops.size() >= 3);
  CHECK(ops[0] == "Mul");
  CHECK(ops[1] == "Concat");
  CHECK(m.nodes[1].inputs.size() == 3);
  CHECK(m.input.dims[1].value == 1);
  CHECK(ops.back() == "Gemm");
  std::vector<std::vector<std::int64_t>> conv_pads, pool_pads;
  for (const auto& n : m.nodes) {
    if (n.op_type == "Conv") conv_pads.push_back(ints_attribute(n, "pads"));
    if (n.op_type == "MaxPool") pool_pads.push_back(ints_attribute(n, "pads"));
  }
  // K=4 on 48: 3 rows of padding, 1 on top and 2 below; K=2 on 12: 0 and 1 (top, left, bottom, right).
  CHECK(conv_pads == std::vector<std::vector<std::int64_t>>{{1, 1, 2, 2}, {0, 0, 1, 1}});
  CHECK(pool_pads == std::vector<std::vector<std::int64_t>>{{0, 0, 0, 0}, {0, 0, 0, 0}});
  std::map<std::string, std::string> meta(m.metadata.begin(), m.metadata.end());
  CHECK(meta["fernet.output"] == "logits (scores)");
  CHECK(meta["fernet.input"].find("replicated to 3 channels") != std::string::npos);
}

TEST_CASE("onnx export: ResNet-18's residual sums and batch norms in inference form") {
  auto net = std::make_unique<ResNet18>(0);
  for (std::size_t i = 0; i < net->buffers().size(); ++i) net->buffers()[i] = 0.001f * static_cast<float>(i);
  const onnx::Model m = onnx::build_model(*net);
  const auto ops = op_types(m);
  CHECK(count(ops, "Add") == 8);
  CHECK(count(ops, "BatchNormalization") == 20);
  CHECK(count(ops, "Conv") == 20);
  CHECK(count(ops, "GlobalAveragePool") == 1);
  CHECK(ops.back() == "Gemm");
  std::size_t floats = 0;
  for (const auto& t : m.initializers) floats += t.raw.size() / sizeof(float);
  CHECK(floats == ResNet18::parameter_count + ResNet18::buffer_count);
  // The stem: conv 7x7/2 pad 3, bn, relu, max pool 3x3/2 pad 1.
  CHECK(ints_attribute(m.nodes[0], "pads") == std::vector<std::int64_t>{3, 3, 3, 3});
  CHECK(ints_attribute(m.nodes[3], "pads") == std::vector<std::int64_t>{1, 1, 1, 1});
  const onnx::Node& bn = m.nodes[1];
  REQUIRE(bn.op_type == "BatchNormalization");
  REQUIRE(bn.inputs.size() == 5);
  CHECK(bn.attributes[0].name == "epsilon");
  CHECK(bn.attributes[0].f == doctest::Approx(1e-5));
  // Its running statistics are buffers 0..63 (mean) and 64..127 (variance).
  const std::vector<float> var = floats_of(initializer(m, bn.inputs[4]));
  CHECK(var.front() == net->buffers()[64]);
  CHECK(var.back() == net->buffers()[127]);
  // Each Add reads a residual body's output and the block's input (or its projection).
  for (const auto& n : m.nodes)
    if (n.op_type == "Add") CHECK(n.inputs.size() == 2);
}

TEST_CASE("onnx export: flat and image tensors meet with Reshape and Flatten") {
  // A Linear's output feeds a convolution (N x 16 -> N x 16 x 1 x 1), and LogSoftmax normalises
  // over all C*H*W values of a sample, as fernet's does.
  using Net = Sequential<Input<1, 4, 4>, Flatten, Linear<16, 16>, Conv<16, 2, 1>, LogSoftmax>;
  auto net = std::make_unique<Net>(3);
  const onnx::Model m = onnx::build_model(*net);
  CHECK(op_types(m) == std::vector<std::string>{"Flatten", "Gemm", "Reshape", "Conv", "Flatten", "LogSoftmax"});
  const auto shape = initializer(m, m.nodes[2].inputs[1]);
  REQUIRE(shape.type == onnx::Initializer::Type::int64);
  std::vector<std::int64_t> dims(4);
  std::memcpy(dims.data(), shape.raw.data(), shape.raw.size());
  CHECK(dims == std::vector<std::int64_t>{-1, 16, 1, 1});
  REQUIRE(m.output.dims.size() == 2);
  CHECK(m.output.dims[1].value == 2);
}

TEST_CASE("onnx export: the file is the serialised model, written atomically") {
  auto net = std::make_unique<TfCNN>(1);
  const std::string bytes = onnx::to_onnx(*net);
  // ModelProto starts with ir_version (field 1, varint).
  REQUIRE(bytes.size() > 2);
  CHECK(bytes[0] == '\x08');
  CHECK(bytes[1] == static_cast<char>(onnx::ir_version));
  CHECK(bytes.size() > TfCNN::parameter_count * sizeof(float));
  const auto path = std::filesystem::temp_directory_path() / "fernet_test_export.onnx";
  onnx::export_model(*net, path.string());
  std::ifstream f(path, std::ios::binary);
  const std::string written((std::istreambuf_iterator<char>(f)), std::istreambuf_iterator<char>());
  CHECK(written == bytes);
  std::filesystem::remove(path);
  CHECK_THROWS_AS(onnx::export_model(*net, "/nonexistent-dir/x.onnx"), IoError);
}
