// fernet::summary: the rows follow the user's layer list, and the per-layer parameter and buffer
// counts equal PyTorch's per module (tests/reference/summary_reference.hpp, written by
// make_summary_reference.py from the notebook's NetAdam and torchvision's ResNet-18).
#include <doctest/doctest.h>

#include <string>
#include <vector>

#include <fernet/networks.hpp>
#include <fernet/summary.hpp>

#include "reference/summary_reference.hpp"

using namespace fernet;
using namespace fernet::networks;

namespace {

// The layers that own parameters, in network order (PyTorch's named_parameters() order).
std::vector<const SummaryRow*> parameter_layers(const Summary& s) {
  std::vector<const SummaryRow*> out;
  for (const SummaryRow& r : s.rows)
    if (!r.block && r.parameters > 0) out.push_back(&r);
  return out;
}

// What fernet layer a PyTorch module name stands for (conv1, layer2.0.bn1, downsample.0, fc4).
std::string expected_kind(const std::string& module) {
  const std::string leaf = module.substr(module.rfind('.') + 1);
  const bool in_downsample = module.find("downsample") != std::string::npos;
  if (leaf.rfind("conv", 0) == 0 || (in_downsample && leaf == "0")) return "Conv<";
  if (leaf.rfind("bn", 0) == 0 || (in_downsample && leaf == "1")) return "BatchNorm2d<";
  if (leaf.rfind("fc", 0) == 0) return "Linear<";
  return "unknown module " + module;
}

template <std::size_t N>
void check_against_pytorch(const Summary& s, const reference::ModuleCount (&modules)[N]) {
  const auto layers = parameter_layers(s);
  REQUIRE(layers.size() == N);
  std::size_t total = 0;
  for (std::size_t i = 0; i < N; ++i) {
    INFO("PyTorch module " << modules[i].module << ", fernet row " << layers[i]->name);
    CHECK(layers[i]->name.rfind(expected_kind(modules[i].module), 0) == 0);
    CHECK(layers[i]->parameters == modules[i].parameters);
    CHECK(layers[i]->buffers == modules[i].buffers);
    total += modules[i].parameters;
  }
  CHECK(s.parameters == total);
}

// A block's counts are those of the rows inside it (up to the next row at its depth or above).
void check_blocks_add_up(const Summary& s) {
  for (std::size_t i = 0; i < s.rows.size(); ++i) {
    if (!s.rows[i].block) continue;
    std::size_t params = 0, buffers = 0;
    for (std::size_t j = i + 1; j < s.rows.size() && s.rows[j].depth > s.rows[i].depth; ++j)
      if (!s.rows[j].block) params += s.rows[j].parameters, buffers += s.rows[j].buffers;
    INFO("block row " << i << " " << s.rows[i].name);
    CHECK(s.rows[i].parameters == params);
    CHECK(s.rows[i].buffers == buffers);
  }
}

}  // namespace

TEST_CASE("summary: NetAdam's layers, counts equal to PyTorch's per module") {
  const Summary s = summary<NetAdam>();
  check_against_pytorch(s, reference::net_adam_modules);
  // Every layer the user wrote, ReLU and Pool separately although the implementation fuses them.
  REQUIRE(s.rows.size() == NetAdam::layer_count);
  CHECK(s.rows[0].name == "Conv<1,32,3,1,0>");
  CHECK(s.rows[1].name == "ReLU");
  CHECK(s.rows[2].name == "Pool<2,2,0>");
  CHECK(s.rows[0].output_shape == std::array<int, 3>{32, 46, 46});
  CHECK(s.rows[2].output_shape == std::array<int, 3>{32, 23, 23});
  CHECK(s.rows.back().name == "LogSoftmax");
  CHECK(s.rows.back().output_shape == std::array<int, 3>{7, 1, 1});
  for (const SummaryRow& r : s.rows) {
    CHECK(r.depth == 0);
    CHECK(r.activation_floats == static_cast<std::size_t>(r.output_shape[0]) * r.output_shape[1] * r.output_shape[2]);
  }
  CHECK(s.input_shape == std::array<int, 3>{1, 48, 48});
  CHECK(s.parameters == NetAdam::parameter_count);
  CHECK(s.buffers == 0);
  // conv1..3 + relu + pool outputs, then the head: 2 * (67712 + 28224 + 8192) + 16928 + 6400 + 2048 ...
  CHECK(s.activation_floats == 239'726);
}

TEST_CASE("summary: ResNet-18's layers, counts equal to PyTorch's per module") {
  const Summary s = summary<ResNet18>();
  check_against_pytorch(s, reference::resnet18_modules);
  check_blocks_add_up(s);
  CHECK(s.parameters == ResNet18::parameter_count);
  CHECK(s.buffers == ResNet18::buffer_count);
  // Stem, four stages, head and fc at depth 0; residual bodies and shortcuts nested below.
  int top = 0, residuals = 0, projections = 0;
  for (const SummaryRow& r : s.rows) {
    top += r.depth == 0;
    residuals += r.name == "Residual";
    projections += r.role == Role::shortcut && r.name == "Chain";
  }
  CHECK(top == 7);
  CHECK(residuals == 8);
  CHECK(projections == 3);
  CHECK(s.rows.back().name == "Linear<512,7,nobias>");
  CHECK(s.rows.back().output_shape == std::array<int, 3>{7, 1, 1});
}

TEST_CASE("summary: the table lists every row and the totals") {
  const std::string text = summary<TfCNN>().to_string();
  CHECK(text.find("Input: 3x48x48") != std::string::npos);
  CHECK(text.find("ConvSame<3,8,4,1,nobias>") != std::string::npos);
  CHECK(text.find("PoolSame<4,4>") != std::string::npos);
  CHECK(text.find("8x12x12") != std::string::npos);
  CHECK(text.find("69,240") != std::string::npos);  // Linear<576,120>
  CHECK(text.find("Total parameters: 78,335") != std::string::npos);
  const std::string resnet = summary<ResNet18>().to_string();
  CHECK(resnet.find("      shortcut: Chain") != std::string::npos);  // nested three deep
  CHECK(resnet.find("Buffers (batch-norm running statistics): 9,600") != std::string::npos);
}
