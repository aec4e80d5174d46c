// Safetensors with PyTorch's names (fernet/safetensors.hpp): the naming rule, a round trip, and
// files that must be refused with a message. tests/safetensors/ checks the names against the
// real PyTorch modules.
#include <doctest/doctest.h>

#include <cstring>
#include <memory>
#include <string>

#include <fernet/networks.hpp>
#include <fernet/safetensors.hpp>

using namespace fernet;

namespace {
using Small =
    Sequential<Input<1, 8, 8>, Conv<1, 4, 3>, BatchNorm2d<4>, ReLU, Pool<2>, Flatten, Linear<36, 5>, LogSoftmax>;

std::string names_of(const std::vector<NamedTensor>& tensors, std::size_t first, std::size_t n) {
  std::string s;
  for (std::size_t i = first; i < first + n && i < tensors.size(); ++i) s += (s.empty() ? "" : " ") + tensors[i].name;
  return s;
}

// The header of a file to_safetensors wrote, and a rebuilt file with a new header.
std::string header_of(const std::string& bytes) {
  std::uint64_t n = 0;
  std::memcpy(&n, bytes.data(), 8);
  return bytes.substr(8, n);
}
std::string with_header(const std::string& bytes, std::string header) {
  std::uint64_t old = 0;
  std::memcpy(&old, bytes.data(), 8);
  std::string out(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(out.data(), &n, 8);
  return out + header + bytes.substr(8 + old);
}
std::string replaced(std::string s, const std::string& from, const std::string& to) {
  const auto at = s.find(from);
  REQUIRE(at != std::string::npos);
  return s.replace(at, from.size(), to);
}
std::string refusal(Small& net, const std::string& bytes) {
  try {
    from_safetensors(net, bytes, "test.safetensors");
  } catch (const SafetensorsError& e) { return e.what(); }
  return "(accepted)";
}
}  // namespace

TEST_CASE("safetensors: PyTorch names of the notebook networks") {
  const auto adam = torch_names<networks::NetAdam>();
  CHECK(names_of(adam, 0, 14) ==
        "conv1.weight conv1.bias conv2.weight conv2.bias conv3.weight conv3.bias fc1.weight fc1.bias fc2.weight "
        "fc2.bias fc3.weight fc3.bias fc4.weight fc4.bias");
  CHECK(adam[0].shape == std::vector<std::int64_t>{32, 1, 3, 3});
  CHECK(adam[6].shape == std::vector<std::int64_t>{1024, 2048});

  const auto tf = torch_names<networks::TfCNN>();
  CHECK(names_of(tf, 0, 8) == "conv1.weight conv2.weight fc1.weight fc1.bias fc2.weight fc2.bias fc3.weight fc3.bias");

  // torchvision's state_dict order: conv1, bn1, layer1.0.conv1, ..., layer2.0.downsample.0, ..., fc.
  const auto r18 = torch_names<networks::ResNet18>();
  CHECK(r18.size() == 101);  // torchvision's 121 state_dict entries less its 20 num_batches_tracked
  CHECK(names_of(r18, 0, 7) ==
        "conv1.weight bn1.weight bn1.bias bn1.running_mean bn1.running_var layer1.0.conv1.weight layer1.0.bn1.weight");
  CHECK(names_of(r18, 24, 6) ==
        "layer1.1.bn2.running_var layer2.0.conv1.weight layer2.0.bn1.weight layer2.0.bn1.bias "
        "layer2.0.bn1.running_mean layer2.0.bn1.running_var");
  CHECK(names_of(r18, 35, 5) ==
        "layer2.0.downsample.0.weight layer2.0.downsample.1.weight layer2.0.downsample.1.bias "
        "layer2.0.downsample.1.running_mean layer2.0.downsample.1.running_var");
  CHECK(r18.back().name == "fc.weight");
  CHECK(r18.back().shape == std::vector<std::int64_t>{7, 512});
  CHECK(r18[3].in_buffers);

  const auto r50 = torch_names<networks::ResNet50>();
  CHECK(names_of(r50, 5, 1) == "layer1.0.conv1.weight");
  CHECK(r50[5].shape == std::vector<std::int64_t>{64, 64, 1, 1});
  // Every slice is covered exactly once: the counts add up to the blocks.
  std::size_t params = 0, buffers = 0;
  for (const NamedTensor& t : r50) (t.in_buffers ? buffers : params) += t.count;
  CHECK(params == networks::ResNet50::parameter_count);
  CHECK(buffers == networks::ResNet50::buffer_count);
}

TEST_CASE("safetensors: round trip and refusals") {
  auto a = std::make_unique<Small>(1);
  for (std::size_t i = 0; i < a->buffers().size(); ++i) a->buffers()[i] = 0.5f + 0.01f * static_cast<float>(i);
  const std::string bytes = to_safetensors(*a, {{"note", "a \"quoted\" value"}});
  CHECK(bytes.size() % 4 == 0);
  CHECK(header_of(bytes).size() % 8 == 0);

  auto b = std::make_unique<Small>(2);
  const auto metadata = from_safetensors(*b, bytes, "round trip");
  CHECK(metadata.at("note") == "a \"quoted\" value");
  CHECK(std::equal(a->parameters().begin(), a->parameters().end(), b->parameters().begin()));
  CHECK(std::equal(a->buffers().begin(), a->buffers().end(), b->buffers().begin()));

  // PyTorch's counter is written (0), so load_state_dict(strict=True) takes the file as it is.
  CHECK(header_of(bytes).find("\"bn1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[]") != std::string::npos);

  // A file from PyTorch carries num_batches_tracked, which fernet does not keep: accepted.
  const std::string header = header_of(bytes);
  const std::string with_counter = replaced(header, "\"__metadata__\"",
                                            "\"1.num_batches_tracked\":{\"dtype\":\"I64\",\"shape\":[],"
                                            "\"data_offsets\":[0,8]},\"__metadata__\"");
  CHECK(refusal(*b, with_header(bytes, with_counter)) == "(accepted)");

  auto c = std::make_unique<Small>(3);
  const std::vector<float> before(c->parameters().begin(), c->parameters().end());
  CHECK(refusal(*c, "abc").find("not a safetensors file") != std::string::npos);
  CHECK(refusal(*c, std::string("\xff\xff\xff\xff\xff\xff\xff\x7f", 8) + "{}").find("header size") !=
        std::string::npos);
  CHECK(refusal(*c, with_header(bytes, "{\"conv1.weight\": [1,")).find("bad safetensors header") != std::string::npos);
  CHECK(refusal(*c, with_header(bytes, "{\"conv1\\u00zz\": 1}")).find("bad \\u escape") != std::string::npos);
  CHECK(refusal(*c, with_header(bytes, replaced(header, "\"shape\":[4,1,3,3]", "\"shape\":[4,1,3,2]")))
            .find("'conv1.weight' has shape [4x1x3x2], the network needs [4x1x3x3]") != std::string::npos);
  CHECK(refusal(*c, with_header(bytes, replaced(header, "F32", "F16"))).find("F16; fernet reads F32 only") !=
        std::string::npos);
  CHECK(refusal(*c, with_header(bytes, replaced(header, "\"bn1.bias\"", "\"bn2.bias\""))).find("lacks: bn1.bias") !=
        std::string::npos);
  CHECK(refusal(*c, with_header(bytes, replaced(header, "\"__metadata__\"",
                                                "\"fc9.weight\":{\"dtype\":\"F32\",\"shape\":[1],\"data_offsets\":"
                                                "[0,4]},\"__metadata__\"")))
            .find("does not have: fc9.weight") != std::string::npos);
  CHECK(refusal(*c, bytes.substr(0, bytes.size() - 12)).find("outside the file's") != std::string::npos);
  // (the last 8 bytes are the ignored num_batches_tracked counter, the 4 before it fc1.bias)
  // Nothing was written into the network by a refused file.
  CHECK(std::equal(before.begin(), before.end(), c->parameters().begin()));
}
