#pragma once
// Model checkpoints: a small versioned binary format.
//
//   "FERNETCK"                 8 bytes magic
//   u32 format version         (1)
//   u32 n, then n x { u32 key length, key, u32 value length, value }   metadata (text)
//   u32 m, then m x { u32 name length, name, u64 count, count x f32 }  float sections
//   u64 FNV-1a checksum of every byte before it
//
// Metadata always holds "signature" (the network's layer list and shapes, from
// Sequential::signature()) so that loading into another network fails with a message naming
// both. Sections hold "parameters", "buffers" and optimiser state. Little-endian, as every
// machine fernet targets. Written atomically.
#include <sys/stat.h>

#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <exception>
#include <limits>
#include <map>
#include <memory>
#include <span>
#include <string>
#include <vector>

#include "atomic_file.hpp"
#include "hash.hpp"

namespace fernet {

struct CheckpointError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct Checkpoint {
  static constexpr char magic[8] = {'F', 'E', 'R', 'N', 'E', 'T', 'C', 'K'};
  static constexpr std::uint32_t format_version = 1;

  std::map<std::string, std::string> meta;
  std::map<std::string, std::vector<float>> sections;

  void set_section(const std::string& name, std::span<const float> values) {
    sections[name].assign(values.begin(), values.end());
  }
  std::string get(const std::string& key, const std::string& fallback = "") const {
    auto it = meta.find(key);
    return it == meta.end() ? fallback : it->second;
  }
  // Copies a section into dst, which must have exactly its size.
  void copy_section(const std::string& name, std::span<float> dst, const std::string& source) const {
    auto it = sections.find(name);
    if (it == sections.end()) throw CheckpointError(source + ": checkpoint has no '" + name + "' section");
    if (it->second.size() != dst.size())
      throw CheckpointError(source + ": section '" + name + "' holds " + std::to_string(it->second.size()) +
                            " values, expected " + std::to_string(dst.size()));
    if (!dst.empty()) std::memcpy(dst.data(), it->second.data(), dst.size() * sizeof(float));
  }

  void save(const std::string& path) const {
    std::vector<unsigned char> bytes;
    auto put = [&](const void* p, std::size_t n) {
      const auto* c = static_cast<const unsigned char*>(p);
      bytes.insert(bytes.end(), c, c + n);
    };
    auto put_u32 = [&](std::uint32_t v) { put(&v, 4); };
    auto put_str = [&](const std::string& s) {
      put_u32(static_cast<std::uint32_t>(s.size()));
      put(s.data(), s.size());
    };
    put(magic, 8);
    put_u32(format_version);
    put_u32(static_cast<std::uint32_t>(meta.size()));
    for (const auto& [k, v] : meta) {
      put_str(k);
      put_str(v);
    }
    put_u32(static_cast<std::uint32_t>(sections.size()));
    for (const auto& [name, values] : sections) {
      put_str(name);
      const std::uint64_t n = values.size();
      put(&n, 8);
      put(values.data(), values.size() * sizeof(float));
    }
    const std::uint64_t sum = fnv1a(bytes.data(), bytes.size());
    put(&sum, 8);
    write_file_atomically(path, [&](std::FILE* f) {
      if (std::fwrite(bytes.data(), 1, bytes.size(), f) != bytes.size())
        throw IoError("cannot write '" + path + "': " + std::strerror(errno));
    });
  }

  // Only a regular file is read, and only after its 8-byte header is checked: a device such as
  // /dev/zero or a large file of another kind is refused before anything is allocated for it.
  // The file's size then bounds every count inside it (parse checks each against what is left).
  static Checkpoint load(const std::string& path) {
    std::unique_ptr<std::FILE, int (*)(std::FILE*)> f(std::fopen(path.c_str(), "rb"), std::fclose);
    if (!f) throw CheckpointError("cannot open checkpoint '" + path + "': " + std::strerror(errno));
    struct stat st {};
    if (::fstat(::fileno(f.get()), &st) != 0) throw CheckpointError("cannot read checkpoint '" + path + "'");
    if (!S_ISREG(st.st_mode)) throw CheckpointError("checkpoint '" + path + "' is not a regular file");
    const auto size = static_cast<std::uint64_t>(st.st_size);
    unsigned char head[8];
    if (size < sizeof head || std::fread(head, 1, sizeof head, f.get()) != sizeof head ||
        std::memcmp(head, magic, sizeof head) != 0)
      throw CheckpointError(path + ": not a valid fernet checkpoint (missing the FERNETCK header)");
    if (size > std::numeric_limits<std::size_t>::max() / 2)
      throw CheckpointError(path + ": not a valid fernet checkpoint (impossibly large)");
    std::vector<unsigned char> bytes(static_cast<std::size_t>(size));
    std::memcpy(bytes.data(), head, sizeof head);
    const std::size_t got = std::fread(bytes.data() + sizeof head, 1, bytes.size() - sizeof head, f.get());
    if (std::ferror(f.get())) throw CheckpointError("cannot read checkpoint '" + path + "': " + std::strerror(errno));
    if (got != bytes.size() - sizeof head)
      throw CheckpointError(path + ": not a valid fernet checkpoint (the file changed size while being read)");
    return parse(bytes, path);
  }

  static Checkpoint parse(const std::vector<unsigned char>& bytes, const std::string& source) {
    auto fail = [&](const std::string& why) -> CheckpointError {
      return CheckpointError(source + ": not a valid fernet checkpoint (" + why + ")");
    };
    if (bytes.size() < 8 + 4 + 8 || std::memcmp(bytes.data(), magic, 8) != 0) throw fail("missing the FERNETCK header");
    std::uint64_t stored;
    std::memcpy(&stored, bytes.data() + bytes.size() - 8, 8);
    if (stored != fnv1a(bytes.data(), bytes.size() - 8))
      throw fail("checksum mismatch: the file is truncated or corrupt");
    std::size_t pos = 8;
    const std::size_t end = bytes.size() - 8;
    auto need = [&](std::size_t n) {
      if (n > end - pos) throw fail("truncated");
    };
    auto get_u32 = [&] {
      need(4);
      std::uint32_t v;
      std::memcpy(&v, bytes.data() + pos, 4);
      pos += 4;
      return v;
    };
    auto get_str = [&] {
      const std::uint32_t n = get_u32();
      need(n);
      std::string s(reinterpret_cast<const char*>(bytes.data()) + pos, n);
      pos += n;
      return s;
    };
    const std::uint32_t version = get_u32();
    if (version != format_version)
      throw CheckpointError(source + ": checkpoint format version " + std::to_string(version) +
                            " is not supported by this fernet (version " + std::to_string(format_version) + ")");
    Checkpoint c;
    for (std::uint32_t i = 0, n = get_u32(); i < n; ++i) {
      std::string k = get_str();
      c.meta[k] = get_str();
    }
    for (std::uint32_t i = 0, n = get_u32(); i < n; ++i) {
      std::string name = get_str();
      need(8);
      std::uint64_t count;
      std::memcpy(&count, bytes.data() + pos, 8);
      pos += 8;
      if (count > (end - pos) / sizeof(float)) throw fail("section '" + name + "' is truncated");
      std::vector<float> v(count);
      if (count > 0) std::memcpy(v.data(), bytes.data() + pos, count * sizeof(float));  // v.data() is null when empty
      pos += count * sizeof(float);
      c.sections[name] = std::move(v);
    }
    if (pos != end) throw fail("trailing bytes");
    return c;
  }
};

namespace detail {
inline std::string shorten(const std::string& s, std::size_t n = 160) {
  return s.size() <= n ? s : s.substr(0, n) + "...";
}
// A whole number from a checkpoint's metadata, within [lo, hi]; the error names the file, the
// field and the value instead of the parser ("stoi").
inline long long checkpoint_integer(const Checkpoint& c, const std::string& key, long long fallback, long long lo,
                                    long long hi, const std::string& src) {
  const std::string text = c.get(key, std::to_string(fallback));
  long long v = 0;
  std::size_t used = 0;
  try {
    v = std::stoll(text, &used);
  } catch (const std::exception&) { used = 0; }
  if (used == 0 || used != text.size() || v < lo || v > hi)
    throw CheckpointError(src + ": checkpoint field '" + key + "' is '" + text + "', not a whole number in " +
                          std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}
inline double checkpoint_real(const Checkpoint& c, const std::string& key, double fallback, double lo, double hi,
                              const std::string& src) {
  const std::string text = c.get(key, std::to_string(fallback));
  double v = 0;
  std::size_t used = 0;
  try {
    v = std::stod(text, &used);
  } catch (const std::exception&) { used = 0; }
  if (used == 0 || used != text.size() || !(v >= lo && v <= hi))
    throw CheckpointError(src + ": checkpoint field '" + key + "' is '" + text + "', not a number in " +
                          std::to_string(lo) + ".." + std::to_string(hi));
  return v;
}
}  // namespace detail

// Save a network's parameters and buffers, with its signature and any extra metadata.
template <class Net>
Checkpoint make_checkpoint(const Net& net, const std::string& model_name) {
  Checkpoint c;
  c.meta["signature"] = Net::signature();
  c.meta["model"] = model_name;
  c.meta["shapes"] = Net::shape_string();
  c.meta["parameter_count"] = std::to_string(Net::parameter_count);
  c.set_section("parameters", net.parameters());
  c.set_section("buffers", net.buffers());
  return c;
}

// Load parameters and buffers into net; a checkpoint of another network is refused with a
// message naming both networks.
template <class Net>
void restore_checkpoint(Net& net, const Checkpoint& c, const std::string& source, const std::string& model_name) {
  if (c.get("signature") != Net::signature()) {
    const std::string other = c.get("model", "unnamed");
    throw CheckpointError(source + ": checkpoint holds network '" + other + "' (" + c.get("shapes") + ", " +
                          c.get("parameter_count", "?") + " parameters: " + detail::shorten(c.get("signature")) +
                          ") but this is network '" + model_name + "' (" + Net::shape_string() + ", " +
                          std::to_string(Net::parameter_count) + " parameters: " + detail::shorten(Net::signature()) +
                          ")");
  }
  c.copy_section("parameters", net.parameters(), source);
  c.copy_section("buffers", net.buffers(), source);
}

}  // namespace fernet
