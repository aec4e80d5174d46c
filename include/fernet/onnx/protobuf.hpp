#pragma once
// A minimal protocol-buffers *writer*: just the wire format the ONNX exporter needs, so that
// writing a .onnx file needs neither libprotobuf nor a protoc build step.
//
// The wire format (https://protobuf.dev/programming-guides/encoding/): a message is a sequence
// of fields, each a key varint (field_number << 3 | wire_type) followed by its value:
//   wire type 0 (varint):           integers and enums, 7 bits per byte, low group first;
//   wire type 2 (length-delimited): strings, bytes, embedded messages and packed repeated
//                                   scalars: a varint byte count, then the bytes;
//   wire type 5 (32-bit):           float, 4 bytes little-endian.
// Fields may come in any order and a repeated field is the same key written again, so a
// message is built by appending fields; an embedded message is built as its own Message first.
#include <bit>
#include <cstdint>
#include <cstring>
#include <span>
#include <string>
#include <string_view>

namespace fernet::onnx::protobuf {

static_assert(std::endian::native == std::endian::little,
              "fernet::onnx: the protobuf writer copies floats as they lie in memory, which needs a "
              "little-endian machine (protobuf's fixed32 and ONNX's raw_data are little-endian)");

class Message {
 public:
  // Integer field (int32, int64, enum, bool): negative values take ten bytes, as protobuf says.
  Message& varint(int field, std::int64_t value) {
    key(field, 0);
    put_varint(static_cast<std::uint64_t>(value));
    return *this;
  }
  Message& fixed_float(int field, float value) {
    key(field, 5);
    append_raw(&value, sizeof value);
    return *this;
  }
  Message& bytes(int field, std::string_view data) {
    key(field, 2);
    put_varint(data.size());
    bytes_.append(data);
    return *this;
  }
  Message& string(int field, std::string_view text) { return bytes(field, text); }
  Message& message(int field, const Message& m) { return bytes(field, m.bytes_); }
  // Packed repeated integers (one length-delimited field).
  Message& packed_varints(int field, std::span<const std::int64_t> values) {
    Message body;
    for (const std::int64_t v : values) body.put_varint(static_cast<std::uint64_t>(v));
    return bytes(field, body.bytes_);
  }
  // Floats as raw little-endian bytes (a `bytes` field such as TensorProto.raw_data).
  Message& float_bytes(int field, std::span<const float> values) {
    return bytes(field, std::string_view(reinterpret_cast<const char*>(values.data()), values.size_bytes()));
  }

  const std::string& data() const { return bytes_; }

 private:
  void key(int field, int wire_type) {
    put_varint(static_cast<std::uint64_t>(field) << 3 | static_cast<unsigned>(wire_type));
  }
  void put_varint(std::uint64_t v) {
    while (v >= 0x80) {
      bytes_.push_back(static_cast<char>((v & 0x7F) | 0x80));
      v >>= 7;
    }
    bytes_.push_back(static_cast<char>(v));
  }
  void append_raw(const void* p, std::size_t n) { bytes_.append(static_cast<const char*>(p), n); }

  std::string bytes_;
};

}  // namespace fernet::onnx::protobuf
