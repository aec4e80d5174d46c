#pragma once
// A minimal protocol-buffers *reader*, the counterpart of protobuf.hpp's writer: it walks the
// fields of one message held in memory, so that reading a .onnx file needs no libprotobuf.
// Every length is checked against the bytes that remain, so a truncated or crafted file gives
// an error naming what was being read, never a read past the buffer; nested messages are views
// into the same buffer (no copies).
#include <cstdint>
#include <cstring>
#include <stdexcept>
#include <string>
#include <string_view>
#include <vector>

namespace fernet::onnx::protobuf {

struct ParseError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// One field: its number, wire type and value (integer for varints and fixed32/64, bytes for
// length-delimited fields).
struct Field {
  int number = 0;
  int wire_type = 0;
  std::uint64_t integer = 0;
  std::string_view bytes;
};

class Reader {
 public:
  Reader(std::string_view message, std::string what) : data_(message), what_(std::move(what)) {}

  bool done() const { return pos_ >= data_.size(); }

  Field next() {
    Field f;
    const std::uint64_t key = varint();
    f.number = static_cast<int>(key >> 3);
    f.wire_type = static_cast<int>(key & 7);
    if (f.number <= 0) fail("field number 0");
    switch (f.wire_type) {
      case 0: f.integer = varint(); break;
      case 1: f.integer = fixed(8); break;
      case 5: f.integer = fixed(4); break;
      case 2: {
        const std::uint64_t n = varint();
        if (n > data_.size() - pos_)
          fail("field " + std::to_string(f.number) + " claims " + std::to_string(n) + " bytes, " +
               std::to_string(data_.size() - pos_) + " remain");
        f.bytes = data_.substr(pos_, static_cast<std::size_t>(n));
        pos_ += static_cast<std::size_t>(n);
        break;
      }
      default: fail("wire type " + std::to_string(f.wire_type) + " (groups are not used by ONNX)");
    }
    return f;
  }

  [[noreturn]] void fail(const std::string& why) const {
    throw ParseError(what_ + ": " + why + " at byte " + std::to_string(pos_));
  }

  // A bare varint (the elements of a packed list).
  std::uint64_t varint() {
    std::uint64_t v = 0;
    for (int shift = 0; shift < 64; shift += 7) {
      if (pos_ >= data_.size()) fail("a number runs past the end");
      const auto b = static_cast<unsigned char>(data_[pos_++]);
      v |= static_cast<std::uint64_t>(b & 0x7F) << shift;
      if (!(b & 0x80)) return v;
    }
    fail("a number longer than ten bytes");
  }

 private:
  std::uint64_t fixed(std::size_t n) {
    if (n > data_.size() - pos_) fail("a fixed-size value runs past the end");
    std::uint64_t v = 0;
    std::memcpy(&v, data_.data() + pos_, n);  // little-endian (protobuf.hpp asserts the machine is)
    pos_ += n;
    return v;
  }

  std::string_view data_;
  std::string what_;
  std::size_t pos_ = 0;
};

// A repeated int64 field: packed (one length-delimited field of varints) or one varint per element.
inline void append_int64s(const Field& f, std::vector<std::int64_t>& out, const std::string& what) {
  if (f.wire_type == 0) {
    out.push_back(static_cast<std::int64_t>(f.integer));
    return;
  }
  if (f.wire_type != 2) throw ParseError(what + ": field " + std::to_string(f.number) + " is not a list of integers");
  Reader r(f.bytes, what);
  while (!r.done()) out.push_back(static_cast<std::int64_t>(r.varint()));
}

// A repeated float field: packed (4 bytes each) or one fixed32 per element.
inline void append_floats(const Field& f, std::vector<float>& out, const std::string& what) {
  if (f.wire_type == 5) {
    const auto bits = static_cast<std::uint32_t>(f.integer);
    float v;
    std::memcpy(&v, &bits, sizeof v);
    out.push_back(v);
    return;
  }
  if (f.wire_type != 2 || f.bytes.size() % sizeof(float) != 0)
    throw ParseError(what + ": field " + std::to_string(f.number) + " is not a list of floats");
  const std::size_t at = out.size();
  out.resize(at + f.bytes.size() / sizeof(float));
  std::memcpy(out.data() + at, f.bytes.data(), f.bytes.size());
}

}  // namespace fernet::onnx::protobuf
