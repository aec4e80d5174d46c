#pragma once
// A network's weights with PyTorch's names, in the safetensors format (huggingface.co/docs/safetensors):
//
//   fernet::save_safetensors(net, "model.safetensors");   // conv1.weight, layer1.0.bn1.running_mean, ...
//   fernet::load_safetensors(net, "model.safetensors");   // the same names, from fernet or from PyTorch
//
// The file is an 8-byte little-endian header length, a JSON header {"name": {"dtype": "F32",
// "shape": [...], "data_offsets": [begin, end]}, ..., "__metadata__": {...}} and the raw data.
//
// Names are those of the equivalent PyTorch module's state_dict(), from one rule (torch_names):
//  - a network without residual blocks is the notebook's nn.Module: each Conv / ConvSame is
//    conv1, conv2, ..., each Linear fc1, fc2, ..., each BatchNorm2d bn1, ... in network order;
//  - a network with residual blocks is torchvision's ResNet: the layers before the first stage
//    are conv1, bn1, ...; each top-level Chain holding residual blocks is a stage layer1,
//    layer2, ...; its k-th residual block layerS.k with conv1, bn1, conv2, ... in its body and
//    the shortcut's layers as downsample.0, downsample.1, ...; the classifier Linear is fc.
// Per layer: Conv weight (Out x In x K x K) and bias; Linear weight (Out x In) and bias;
// BatchNorm2d weight, bias (parameters) and running_mean, running_var (buffers). PyTorch's
// num_batches_tracked (an int64 counter fernet does not keep) is written as 0 and ignored when
// loading.
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <map>
#include <span>
#include <stdexcept>
#include <string>
#include <string_view>
#include <type_traits>
#include <vector>

#include "atomic_file.hpp"
#include "summary.hpp"

namespace fernet {

struct SafetensorsError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One tensor of a network under its PyTorch name: a slice of the parameter or buffer block.
struct NamedTensor {
  std::string name;
  std::vector<std::int64_t> shape;
  bool in_buffers = false;  // running statistics live in the buffer block
  std::size_t offset = 0;   // into that block
  std::size_t count = 0;
};

// The tensors each parameterised spec has, in the order its block slice holds them, and the
// kind of module it is ("conv", "bn", "fc"). A layer with parameters and no specialisation here
// cannot be named and says so at compile time.
template <class Spec>
struct TorchTensors {
  static constexpr const char* kind = nullptr;  // parameter-free: no tensors
};

namespace detail {
inline void add_tensor(std::vector<NamedTensor>& out, const std::string& name, std::vector<std::int64_t> shape,
                       bool in_buffers, std::size_t& offset) {
  std::size_t n = 1;
  for (std::int64_t d : shape) n *= static_cast<std::size_t>(d);
  out.push_back({name, std::move(shape), in_buffers, offset, n});
  offset += n;
}
}  // namespace detail

template <int In, int Out, int K, int Stride, int Pad, bool Bias, class Init>
struct TorchTensors<Conv<In, Out, K, Stride, Pad, Bias, Init>> {
  static constexpr const char* kind = "conv";
  static void add(std::vector<NamedTensor>& out, const std::string& module, std::size_t params, std::size_t) {
    detail::add_tensor(out, module + ".weight", {Out, In, K, K}, false, params);
    if (Bias) detail::add_tensor(out, module + ".bias", {Out}, false, params);
  }
};
template <int In, int Out, int K, int Stride, bool Bias, class Init>
struct TorchTensors<ConvSame<In, Out, K, Stride, Bias, Init>> : TorchTensors<Conv<In, Out, K, Stride, 0, Bias, Init>> {
};
template <int In, int Out, bool Bias, class Init>
struct TorchTensors<Linear<In, Out, Bias, Init>> {
  static constexpr const char* kind = "fc";
  static void add(std::vector<NamedTensor>& out, const std::string& module, std::size_t params, std::size_t) {
    detail::add_tensor(out, module + ".weight", {Out, In}, false, params);
    if (Bias) detail::add_tensor(out, module + ".bias", {Out}, false, params);
  }
};
template <int C, int MomentumPermille, int EpsExp10>
struct TorchTensors<BatchNorm2d<C, MomentumPermille, EpsExp10>> {
  static constexpr const char* kind = "bn";
  static void add(std::vector<NamedTensor>& out, const std::string& module, std::size_t params, std::size_t buffers) {
    detail::add_tensor(out, module + ".weight", {C}, false, params);
    detail::add_tensor(out, module + ".bias", {C}, false, params);
    detail::add_tensor(out, module + ".running_mean", {C}, true, buffers);
    detail::add_tensor(out, module + ".running_var", {C}, true, buffers);
  }
};

template <class Spec>
inline constexpr bool contains_residual = is_residual<Spec>;
template <class... Ls>
inline constexpr bool contains_residual<Chain<Ls...>> = (contains_residual<Ls> || ...);

template <class Net>
inline constexpr bool has_residual_blocks = contains_residual<typename network_traits<Net>::body>;

namespace detail {
// The naming walk (the rule is at the top of this file).
class TorchNamer {
 public:
  explicit TorchNamer(bool torchvision) : torchvision_(torchvision) {}
  std::vector<NamedTensor> tensors;

  template <class N>
  void layer(const N& node) {
    using T = TorchTensors<typename N::spec>;
    if constexpr (T::kind == nullptr) {
      static_assert(N::param_count == 0 && N::buffer_count == 0,
                    "fernet: this layer has parameters but no PyTorch names; add a TorchTensors<Spec> "
                    "specialisation in fernet/safetensors.hpp");
      if (shortcut_position_ >= 0) ++shortcut_position_;  // positions in nn.Sequential count every module
    } else {
      std::string module;
      if (node.role == Role::shortcut) module = block_ + "downsample.0";
      else if (shortcut_position_ >= 0) module = block_ + "downsample." + std::to_string(shortcut_position_++);
      else module = block_ + counted(T::kind);
      T::add(tensors, module, node.param_offset, node.buffer_offset);
    }
  }
  template <class N>
  void enter(const N& node) {
    using Spec = typename N::spec;
    if (!torchvision_) return;
    if constexpr (is_residual<Spec>) {
      if (stage_.empty())
        throw SafetensorsError(
            "fernet::safetensors: a residual block outside a stage (a top-level Chain) has no "
            "torchvision name");
      block_ = stage_ + std::to_string(blocks_++) + ".";
      saved_counts_ = counts_;
      counts_.clear();
    } else if (node.role == Role::shortcut) {
      shortcut_position_ = 0;
    } else if (node.depth == 0 && contains_residual<Spec>) {
      stage_ = "layer" + std::to_string(++stages_) + ".";
      blocks_ = 0;
    }
  }
  template <class N>
  void shortcut(const N&) {}
  template <class N>
  void leave(const N& node) {
    using Spec = typename N::spec;
    if (!torchvision_) return;
    if constexpr (is_residual<Spec>) {
      block_.clear();
      counts_ = saved_counts_;
    } else if (node.role == Role::shortcut) {
      shortcut_position_ = -1;
    } else if (node.depth == 0 && contains_residual<Spec>) {
      stage_.clear();
    }
  }

 private:
  // conv1, conv2, ... (fc for torchvision's one classifier).
  std::string counted(const std::string& kind) {
    const int n = ++counts_[kind];
    if (torchvision_ && kind == "fc" && block_.empty()) {
      if (n > 1)
        throw SafetensorsError(
            "fernet::safetensors: torchvision's ResNet has one classifier 'fc'; this network has "
            "more than one top-level Linear");
      return "fc";
    }
    return kind + std::to_string(n);
  }

  bool torchvision_;
  std::string stage_, block_;
  int stages_ = 0, blocks_ = 0;
  int shortcut_position_ = -1;  // >= 0 inside a residual's shortcut Chain
  std::map<std::string, int> counts_, saved_counts_;
};
}  // namespace detail

// Every tensor of Net under its PyTorch name, in network order.
template <class Net>
std::vector<NamedTensor> torch_names() {
  detail::TorchNamer namer(has_residual_blocks<Net>);
  walk_network<Net>(namer);
  return std::move(namer.tensors);
}

// ---- the file format -----------------------------------------------------------------------
namespace detail {
inline std::string json_string(std::string_view s) {
  std::string out = "\"";
  for (char c : s) {
    if (c == '"' || c == '\\') out += '\\';
    if (static_cast<unsigned char>(c) < 0x20) {
      char buf[8];
      std::snprintf(buf, sizeof buf, "\\u%04x", c);
      out += buf;
    } else {
      out += c;
    }
  }
  return out + "\"";
}

// A JSON reader for the header: objects, arrays, strings, integers (what safetensors uses).
struct JsonValue {
  enum class Type { object, array, string, number } type = Type::number;
  std::vector<std::pair<std::string, JsonValue>> members;  // object
  std::vector<JsonValue> items;                            // array
  std::string text;                                        // string
  std::int64_t number = 0;
  const JsonValue* find(std::string_view key) const {
    for (const auto& [k, v] : members)
      if (k == key) return &v;
    return nullptr;
  }
};

class JsonParser {
 public:
  JsonParser(std::string_view s, std::string where) : s_(s), where_(std::move(where)) {}
  JsonValue parse() {
    JsonValue v = value(0);
    skip_space();
    if (i_ != s_.size()) fail("text after the header's JSON object");
    return v;
  }

 private:
  [[noreturn]] void fail(const std::string& what) const {
    throw SafetensorsError(where_ + ": bad safetensors header at byte " + std::to_string(i_) + ": " + what);
  }
  void skip_space() {
    while (i_ < s_.size() && (s_[i_] == ' ' || s_[i_] == '\n' || s_[i_] == '\r' || s_[i_] == '\t')) ++i_;
  }
  void expect(char c) {
    skip_space();
    if (i_ >= s_.size() || s_[i_] != c) fail(std::string("expected '") + c + "'");
    ++i_;
  }
  JsonValue value(int depth) {
    if (depth > 8) fail("nested too deep");
    skip_space();
    if (i_ >= s_.size()) fail("unexpected end");
    JsonValue v;
    const char c = s_[i_];
    if (c == '{') {
      v.type = JsonValue::Type::object;
      ++i_;
      skip_space();
      if (i_ < s_.size() && s_[i_] == '}') return ++i_, v;
      for (;;) {
        skip_space();
        std::string key = string();
        expect(':');
        v.members.emplace_back(std::move(key), value(depth + 1));
        skip_space();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        expect('}');
        return v;
      }
    }
    if (c == '[') {
      v.type = JsonValue::Type::array;
      ++i_;
      skip_space();
      if (i_ < s_.size() && s_[i_] == ']') return ++i_, v;
      for (;;) {
        v.items.push_back(value(depth + 1));
        skip_space();
        if (i_ < s_.size() && s_[i_] == ',') {
          ++i_;
          continue;
        }
        expect(']');
        return v;
      }
    }
    if (c == '"') {
      v.type = JsonValue::Type::string;
      v.text = string();
      return v;
    }
    if (c >= '0' && c <= '9') {
      v.type = JsonValue::Type::number;
      while (i_ < s_.size() && s_[i_] >= '0' && s_[i_] <= '9') {
        if (v.number > (INT64_MAX - 9) / 10) fail("number too large");
        v.number = v.number * 10 + (s_[i_++] - '0');
      }
      return v;
    }
    fail(std::string("unexpected character '") + c + "'");
  }
  std::string string() {
    if (i_ >= s_.size() || s_[i_] != '"') fail("expected a string");
    ++i_;
    std::string out;
    while (i_ < s_.size() && s_[i_] != '"') {
      char c = s_[i_++];
      if (c == '\\') {
        if (i_ >= s_.size()) break;
        c = s_[i_++];
        if (c == 'u') {  // names and metadata here are ASCII; keep other code points as '?'
          unsigned code = 0;
          for (int d = 0; d < 4; ++d, ++i_) {
            const char h = i_ < s_.size() ? s_[i_] : '\0';
            const int v = h >= '0' && h <= '9'   ? h - '0'
                          : h >= 'a' && h <= 'f' ? h - 'a' + 10
                          : h >= 'A' && h <= 'F' ? h - 'A' + 10
                                                 : -1;
            if (v < 0) fail("bad \\u escape");
            code = code * 16 + static_cast<unsigned>(v);
          }
          c = code < 0x80 ? static_cast<char>(code) : '?';
        } else if (c == 'n') {
          c = '\n';
        } else if (c == 't') {
          c = '\t';
        } else if (c == 'r') {
          c = '\r';
        } else if (c == 'b') {
          c = '\b';
        } else if (c == 'f') {
          c = '\f';
        }
      }
      out += c;
    }
    if (i_ >= s_.size()) fail("unterminated string");
    ++i_;
    return out;
  }

  std::string_view s_;
  std::size_t i_ = 0;
  std::string where_;
};
}  // namespace detail

// The file's bytes: the named tensors of net (float32, little-endian as the host) and metadata.
template <class Net>
std::string to_safetensors(const Net& net, const std::map<std::string, std::string>& metadata = {}) {
  static_assert(std::endian::native == std::endian::little, "fernet::safetensors: writes little-endian hosts only");
  const std::vector<NamedTensor> tensors = torch_names<Net>();
  std::string header = "{";
  std::size_t data_bytes = 0;
  for (const NamedTensor& t : tensors) {
    std::string shape;
    for (std::int64_t d : t.shape) shape += (shape.empty() ? "" : ",") + std::to_string(d);
    header += detail::json_string(t.name) + ":{\"dtype\":\"F32\",\"shape\":[" + shape + "],\"data_offsets\":[" +
              std::to_string(data_bytes) + "," + std::to_string(data_bytes + t.count * sizeof(float)) + "]},";
    data_bytes += t.count * sizeof(float);
  }
  // PyTorch's BatchNorm2d has an int64 counter too; it is written as 0 (it matters only without
  // momentum, and fernet's batch norm has one) so that load_state_dict(strict=True) accepts the file.
  std::size_t counters = 0;
  for (const NamedTensor& t : tensors)
    if (t.name.ends_with(".running_var")) {
      const std::string module = t.name.substr(0, t.name.size() - std::strlen(".running_var"));
      header += detail::json_string(module + ".num_batches_tracked") +
                ":{\"dtype\":\"I64\",\"shape\":[],\"data_offsets\":[" + std::to_string(data_bytes) + "," +
                std::to_string(data_bytes + 8) + "]},";
      data_bytes += 8;
      ++counters;
    }
  header += "\"__metadata__\":{";
  bool first = true;
  for (const auto& [k, v] : metadata) {
    header += (first ? "" : ",") + detail::json_string(k) + ":" + detail::json_string(v);
    first = false;
  }
  header += "}}";
  header.append((8 - header.size() % 8) % 8, ' ');  // the data starts 8-byte aligned
  std::string bytes(8, '\0');
  const std::uint64_t n = header.size();
  std::memcpy(bytes.data(), &n, 8);
  bytes += header;
  for (const NamedTensor& t : tensors) {
    const std::span<const float> block = t.in_buffers ? net.buffers() : net.parameters();
    bytes.append(reinterpret_cast<const char*>(block.data() + t.offset), t.count * sizeof(float));
  }
  bytes.append(8 * counters, '\0');
  return bytes;
}

// Writes the file atomically (an old file stays until the new one is whole).
template <class Net>
void save_safetensors(const Net& net, const std::string& path,
                      const std::map<std::string, std::string>& metadata = {}) {
  const std::string bytes = to_safetensors(net, metadata);
  write_file_atomically(path, [&](std::FILE* f) {
    if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
      throw IoError("cannot write '" + path + "': " + std::strerror(errno));
  });
}

// Fills net's parameters and buffers from a safetensors file's bytes (where names the source in
// messages). Every tensor of torch_names<Net>() must be there as F32 with its exact shape;
// a tensor the network does not have is an error (a different network), except PyTorch's
// num_batches_tracked counters. Returns the metadata. Nothing is written into net unless the
// whole file checks out.
template <class Net>
std::map<std::string, std::string> from_safetensors(Net& net, std::string_view bytes, const std::string& where) {
  if (bytes.size() < 8)
    throw SafetensorsError(where + ": not a safetensors file (shorter than its 8-byte header size)");
  std::uint64_t header_size = 0;
  std::memcpy(&header_size, bytes.data(), 8);
  if (header_size > bytes.size() - 8 || header_size > (std::uint64_t{100} << 20))
    throw SafetensorsError(where + ": not a safetensors file (header size " + std::to_string(header_size) +
                           " bytes, file " + std::to_string(bytes.size()) + " bytes)");
  const std::string_view data = bytes.substr(8 + header_size);
  const detail::JsonValue header = detail::JsonParser(bytes.substr(8, header_size), where).parse();
  if (header.type != detail::JsonValue::Type::object)
    throw SafetensorsError(where + ": the header is not a JSON object");

  std::map<std::string, std::string> metadata;
  std::map<std::string, const detail::JsonValue*> entries;
  for (const auto& [name, v] : header.members) {
    if (name == "__metadata__") {
      for (const auto& [k, m] : v.members)
        if (m.type == detail::JsonValue::Type::string) metadata[k] = m.text;
    } else {
      entries[name] = &v;
    }
  }

  struct Copy {
    const NamedTensor* tensor;
    std::size_t begin;
  };
  const std::vector<NamedTensor> tensors = torch_names<Net>();
  std::vector<Copy> copies;
  std::string missing;
  for (const NamedTensor& t : tensors) {
    const auto it = entries.find(t.name);
    if (it == entries.end()) {
      missing += (missing.empty() ? "" : ", ") + t.name;
      continue;
    }
    const detail::JsonValue& e = *it->second;
    entries.erase(it);
    const detail::JsonValue *dtype = e.find("dtype"), *shape = e.find("shape"), *offsets = e.find("data_offsets");
    if (!dtype || !shape || !offsets || offsets->items.size() != 2)
      throw SafetensorsError(where + ": tensor '" + t.name + "' lacks dtype, shape or data_offsets");
    if (dtype->text != "F32")
      throw SafetensorsError(where + ": tensor '" + t.name + "' is " + dtype->text + "; fernet reads F32 only");
    std::vector<std::int64_t> dims;
    for (const auto& d : shape->items) dims.push_back(d.number);
    if (dims != t.shape) {
      auto text = [](const std::vector<std::int64_t>& s) {
        std::string out;
        for (std::int64_t d : s) out += (out.empty() ? "" : "x") + std::to_string(d);
        return "[" + out + "]";
      };
      throw SafetensorsError(where + ": tensor '" + t.name + "' has shape " + text(dims) + ", the network needs " +
                             text(t.shape));
    }
    const auto begin = static_cast<std::size_t>(offsets->items[0].number);
    const auto end = static_cast<std::size_t>(offsets->items[1].number);
    if (end < begin || end > data.size() || end - begin != t.count * sizeof(float))
      throw SafetensorsError(where + ": tensor '" + t.name + "' has data offsets [" + std::to_string(begin) + ", " +
                             std::to_string(end) + ") outside the file's " + std::to_string(data.size()) +
                             " data bytes or not its size");
    copies.push_back({&t, begin});
  }
  if (!missing.empty())
    throw SafetensorsError(where + ": the network " + Net::signature() + " needs tensors the file lacks: " + missing);
  std::string extra;
  for (const auto& [name, v] : entries) {
    const bool counter = name.size() >= 20 && name.ends_with("num_batches_tracked");
    if (!counter) extra += (extra.empty() ? "" : ", ") + name;
  }
  if (!extra.empty())
    throw SafetensorsError(where + ": tensors the network " + Net::signature() + " does not have: " + extra);

  for (const Copy& c : copies) {
    const std::span<float> block = c.tensor->in_buffers ? net.buffers() : net.parameters();
    std::memcpy(block.data() + c.tensor->offset, data.data() + c.begin, c.tensor->count * sizeof(float));
  }
  return metadata;
}

template <class Net>
std::map<std::string, std::string> load_safetensors(Net& net, const std::string& path) {
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw IoError("cannot open '" + path + "': " + std::strerror(errno));
  std::string bytes;
  char buf[1 << 16];
  std::size_t n;
  // The file holds exactly the network's tensors plus a header: more than that is refused
  // before it is read whole.
  const std::size_t limit = (Net::parameter_count + Net::buffer_count) * sizeof(float) + (std::size_t{100} << 20);
  while ((n = std::fread(buf, 1, sizeof buf, f)) > 0) {
    bytes.append(buf, n);
    if (bytes.size() > limit) {
      std::fclose(f);
      throw SafetensorsError(path + ": larger than " + Net::signature() + "'s tensors could make it");
    }
  }
  const bool failed = std::ferror(f);
  std::fclose(f);
  if (failed) throw IoError("cannot read '" + path + "'");
  return from_safetensors(net, bytes, path);
}

}  // namespace fernet
