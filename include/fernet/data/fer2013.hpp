#pragma once
// FER2013, the Kaggle facial-expression data set ("Challenges in Representation Learning"), as
// its one CSV file: header `emotion,pixels,Usage`, then one row per 48x48 grey image:
//   3,70 80 82 ... (2304 values 0..255),Training
// The loader is strict: any malformed row throws DataError "<source>:<line>: <problem>" (line
// numbers 1-based, the header is line 1; pixel indices 0-based), nothing is skipped. Files may be
// plain or gzip (recognised by their magic bytes), with LF or CRLF line endings.
// Parsing is hand-written because the full file is 301 MB of text: iostreams or std::stoi per
// value would take tens of seconds; this parses about half a gigabyte a second, so loading a
// .gz is bounded by zlib's inflate.
#include <unistd.h>
#include <zlib.h>

#include "../atomic_file.hpp"
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cerrno>
#include <cstdint>
#include <cstdio>
#include <cstring>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

namespace fernet::data {

enum class Split : std::uint8_t { Training = 0, PublicTest = 1, PrivateTest = 2 };

inline std::string_view split_name(Split s) {
  switch (s) {
    case Split::Training:
      return "Training";
    case Split::PublicTest:
      return "PublicTest";
    case Split::PrivateTest:
      return "PrivateTest";
  }
  return "?";
}

// Exact, case-sensitive names as they appear in the Usage column.
inline std::optional<Split> parse_split(std::string_view name) {
  if (name == "Training") return Split::Training;
  if (name == "PublicTest") return Split::PublicTest;
  if (name == "PrivateTest") return Split::PrivateTest;
  return std::nullopt;
}

inline constexpr int image_side = 48, image_pixels = image_side * image_side, num_classes = 7;

inline std::string_view emotion_name(int label) {
  static constexpr std::array<std::string_view, num_classes> names = {
      "Angry", "Disgust", "Fear", "Happy", "Sad", "Surprise", "Neutral"};
  if (label < 0 || label >= num_classes)
    throw std::out_of_range("emotion_name: label " + std::to_string(label) + " is outside 0..6");
  return names[static_cast<std::size_t>(label)];
}

struct DataError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

// Images, labels and splits in file order; one image is image_pixels bytes, row-major.
struct Fer2013 {
  std::vector<std::uint8_t> pixels;
  std::vector<std::uint8_t> labels;
  std::vector<Split> usage;

  std::size_t size() const { return labels.size(); }
  const std::uint8_t* image(std::size_t i) const { return pixels.data() + i * image_pixels; }

  Fer2013 split(Split which) const {
    Fer2013 out;
    const auto n = static_cast<std::size_t>(std::count(usage.begin(), usage.end(), which));
    out.pixels.reserve(n * image_pixels);
    out.labels.reserve(n);
    out.usage.reserve(n);
    for (std::size_t i = 0; i < size(); ++i)
      if (usage[i] == which) out.append(image(i), labels[i], which);
    return out;
  }

  std::array<std::size_t, num_classes> class_counts() const {
    std::array<std::size_t, num_classes> counts{};
    for (const std::uint8_t label : labels) ++counts.at(label);
    return counts;
  }

  void append(const std::uint8_t* img, int label, Split which) {
    if (label < 0 || label >= num_classes)
      throw DataError("Fer2013::append: label " + std::to_string(label) + " is outside 0..6");
    pixels.insert(pixels.end(), img, img + image_pixels);
    labels.push_back(static_cast<std::uint8_t>(label));
    usage.push_back(which);
  }
};

namespace detail {

// `text` in double quotes for an error message: control bytes escaped, long text cut short.
inline std::string quoted(std::string_view text, std::size_t max_chars = 40) {
  std::string out = "\"";
  for (std::size_t i = 0; i < text.size() && i < max_chars; ++i) {
    const auto c = static_cast<unsigned char>(text[i]);
    if (c == '"' || c == '\\') {
      out += '\\';
      out += static_cast<char>(c);
    } else if (c < 0x20 || c >= 0x7f) {
      static constexpr char hex[] = "0123456789abcdef";
      out += "\\x";
      out += hex[c >> 4];
      out += hex[c & 15];
    } else {
      out += static_cast<char>(c);
    }
  }
  out += text.size() > max_chars ? "\"..." : "\"";
  return out;
}

inline constexpr std::string_view fer2013_header = "emotion,pixels,Usage";

// Turns lines (without their '\n') into a Fer2013, checking every field.
class Fer2013Parser {
 public:
  Fer2013Parser(std::string_view source, std::size_t text_bytes_hint) : source_(source) {
    // Rows of the real file average 8389 bytes; reserving up front avoids regrowing 80 MB.
    const std::size_t rows = text_bytes_hint / 8000 + 1;
    out_.pixels.reserve(rows * image_pixels);
    out_.labels.reserve(rows);
    out_.usage.reserve(rows);
  }

  void line(std::string_view text) {
    ++line_no_;
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (line_no_ == 1)
      header(text);
    else
      row(text);
  }

  Fer2013 finish() && {
    if (line_no_ == 0) fail(1, "empty file (expected the header " + quoted(fer2013_header) + ")");
    return std::move(out_);
  }

 private:
  [[noreturn]] void fail(std::size_t line_no, const std::string& problem) const {
    throw DataError(source_ + ":" + std::to_string(line_no) + ": " + problem);
  }
  [[noreturn]] void fail(const std::string& problem) const { fail(line_no_, problem); }

  void header(std::string_view text) {
    constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";  // spreadsheet programs add it
    if (text.substr(0, utf8_bom.size()) == utf8_bom) text.remove_prefix(utf8_bom.size());
    if (text != fer2013_header)
      fail("wrong header " + quoted(text) + ", expected " + quoted(fer2013_header));
  }

  void row(std::string_view text) {
    if (text.empty()) fail("empty line, expected a row emotion,pixels,Usage");
    const char* const begin = text.data();
    const char* const end = begin + text.size();
    const auto find_comma = [end](const char* from) {
      return static_cast<const char*>(std::memchr(from, ',', static_cast<std::size_t>(end - from)));
    };
    const char* const comma1 = find_comma(begin);
    const char* const comma2 = comma1 ? find_comma(comma1 + 1) : nullptr;
    if (!comma2)
      fail(std::string("missing field: expected 3 comma-separated fields (emotion,pixels,Usage), "
                       "found ") +
           (comma1 ? "2" : "1"));
    if (find_comma(comma2 + 1)) {
      const auto fields = 1 + std::count(begin, end, ',');
      fail("extra field: expected 3 comma-separated fields (emotion,pixels,Usage), found " +
           std::to_string(fields));
    }
    const int label = parse_label({begin, static_cast<std::size_t>(comma1 - begin)});
    parse_pixels(comma1 + 1, comma2);
    const std::string_view usage_text(comma2 + 1, static_cast<std::size_t>(end - comma2 - 1));
    const auto which = parse_split(usage_text);
    if (!which)
      fail("unknown Usage " + quoted(usage_text) +
           " (expected Training, PublicTest or PrivateTest)");
    out_.append(row_.data(), label, *which);
  }

  int parse_label(std::string_view text) const {
    if (text.size() == 1 && text[0] >= '0' && text[0] <= '6') return text[0] - '0';  // fast path
    if (text.empty()) fail("emotion label is empty, expected an integer 0..6");
    const std::string_view digits = text[0] == '-' ? text.substr(1) : text;
    const bool is_integer =
        !digits.empty() &&
        std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
    if (!is_integer) fail("emotion label " + quoted(text) + " is not an integer");
    const auto first_nonzero = digits.find_first_not_of('0');
    if (first_nonzero == std::string_view::npos) return 0;  // "00", "-0"
    if (text[0] == '-' || first_nonzero != digits.size() - 1 || digits.back() > '6')
      fail("emotion label " + quoted(text) + " is outside 0..6");
    return digits.back() - '0';
  }

  // Space-separated values 0..255 into row_; counts past 2304 so the message can say how many.
  void parse_pixels(const char* p, const char* const end) {
    if (p == end) fail("expected 2304 pixels, found 0 (the pixels field is empty)");
    std::size_t count = 0;
    for (;;) {
      p = parse_plain_pixels(p, end, count);
      // One token the careful way: the last one, anything unusual, and every error.
      const char* const token = p;
      unsigned value = 0;
      while (p != end && static_cast<unsigned char>(*p - '0') < 10) {
        value = value * 10 + static_cast<unsigned>(*p - '0');
        if (value > 255) value = 256;  // saturate: out of range whatever the length
        ++p;
      }
      if (p == token || (p != end && *p != ' ') || value > 255) bad_pixel(count, token, end);
      store_pixel(count++, value);
      if (p == end) break;
      ++p;  // the separating space
    }
    if (count != image_pixels) fail("expected 2304 pixels, found " + std::to_string(count));
  }

  // Fast path: consumes well-formed tokens (1-3 digits, value <= 255, then a space) 64 bytes at
  // a time and stops before anything else. Spaces are found for the whole block at once, so
  // successive tokens do not wait on each other; a per-character loop is latency-bound and
  // mispredicts on most pixels, because digit counts of real images are random.
  const char* parse_plain_pixels(const char* p, const char* const end, std::size_t& count) {
#if defined(__SSE2__)
    constexpr std::ptrdiff_t block = 64, overread = 3;  // a token's 4-byte load may pass the block
    while (end - p >= block + overread) {
      std::uint64_t spaces = 0, others = 0;
      for (int i = 0; i < block / 16; ++i) {
        const __m128i c = _mm_loadu_si128(reinterpret_cast<const __m128i*>(p + 16 * i));
        const __m128i space = _mm_cmpeq_epi8(c, _mm_set1_epi8(' '));
        const __m128i digit = _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)),
                                            _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
        const auto bits = [](__m128i m) {
          return static_cast<std::uint64_t>(static_cast<std::uint16_t>(_mm_movemask_epi8(m)));
        };
        spaces |= bits(space) << (16 * i);
        others |= bits(_mm_andnot_si128(_mm_or_si128(space, digit), _mm_set1_epi8(-1))) << (16 * i);
      }
      if (others != 0) spaces &= (std::uint64_t{1} << std::countr_zero(others)) - 1;
      int start = 0;
      for (; spaces != 0; spaces &= spaces - 1) {
        const int stop = std::countr_zero(spaces);
        const int digits = stop - start;
        if (digits == 0 || digits > 3) return p + start;
        std::uint32_t word;
        std::memcpy(&word, p + start, 4);
        // Digits to values 0..9, shifted so that the last digit lands in byte 2.
        const std::uint32_t aligned = (word ^ 0x30303030u) << (8 * (3 - digits));
        const unsigned value =
            (aligned & 0xFF) * 100 + ((aligned >> 8) & 0xFF) * 10 + ((aligned >> 16) & 0xFF);
        if (value > 255) return p + start;
        store_pixel(count++, value);
        start = stop + 1;
      }
      if (start == 0) return p;  // no complete token in the block: let the careful path decide
      p += start;
    }
#endif
    return p;
  }

  void store_pixel(std::size_t index, unsigned value) {
    if (index < image_pixels) row_[index] = static_cast<std::uint8_t>(value);
  }

  [[noreturn]] void bad_pixel(std::size_t index, const char* token, const char* end) const {
    const char* const token_end = std::find(token, end, ' ');
    const std::string_view text(token, static_cast<std::size_t>(token_end - token));
    const std::string where = "pixel index " + std::to_string(index);
    if (text.empty())
      fail(where + " is empty (two spaces in a row, or a leading or trailing space)");
    const std::string_view digits = text[0] == '-' ? text.substr(1) : text;
    const bool is_integer =
        !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
    if (is_integer) fail(where + " value " + quoted(text) + " is outside 0..255");
    fail(where + " is not a number: " + quoted(text));
  }

  std::string source_;
  std::size_t line_no_ = 0;
  std::array<std::uint8_t, image_pixels> row_{};
  Fer2013 out_;
};

// Feeds every '\n'-terminated line of `text` to the parser; returns the unterminated rest.
inline std::string_view feed_lines(std::string_view text, Fer2013Parser& parser) {
  while (const void* nl = text.empty() ? nullptr : std::memchr(text.data(), '\n', text.size())) {
    const auto length = static_cast<std::size_t>(static_cast<const char*>(nl) - text.data());
    parser.line(text.substr(0, length));
    text.remove_prefix(length + 1);
  }
  return text;
}

// Feeds `read(dst, capacity) -> bytes (0 at the end)` to the parser line by line; a line may
// straddle reads, and the last line needs no '\n'.
template <class Read>
void parse_stream(Read&& read, Fer2013Parser& parser) {
  std::vector<char> buffer(std::size_t{1} << 20);
  std::size_t filled = 0;
  for (;;) {
    if (filled == buffer.size()) buffer.resize(buffer.size() * 2);  // a line longer than it
    const std::size_t got = read(buffer.data() + filled, buffer.size() - filled);
    if (got == 0) break;
    filled += got;
    const std::string_view rest = feed_lines({buffer.data(), filled}, parser);
    std::memmove(buffer.data(), rest.data(), rest.size());
    filled = rest.size();
  }
  if (filled > 0) parser.line({buffer.data(), filled});
}

// A file read as bytes; gzip files (magic 1f 8b) are decompressed on the fly.
class FileReader {
 public:
  explicit FileReader(const std::string& path)
      : path_(path), file_(std::fopen(path.c_str(), "rb")) {
    if (!file_) throw DataError(path_ + ": cannot open: " + std::strerror(errno));
    in_.resize(std::size_t{1} << 20);
    in_len_ = fill(in_.data(), in_.size());
    gzip_ = in_len_ >= 2 && in_[0] == 0x1f && in_[1] == 0x8b;
    if (gzip_ && inflateInit2(&zs_, 15 + 16) != Z_OK)  // 15 + 16: window 2^15, gzip wrapper
      throw DataError(path_ + ": cannot start zlib: out of memory");
  }
  ~FileReader() {
    if (gzip_) inflateEnd(&zs_);
  }
  FileReader(const FileReader&) = delete;
  FileReader& operator=(const FileReader&) = delete;

  bool gzip() const { return gzip_; }

  // Bytes on disk, for sizing storage; 0 when unknown (a pipe).
  std::size_t disk_size() const {
    std::error_code ec;
    const auto size = std::filesystem::file_size(path_, ec);
    return ec ? 0 : static_cast<std::size_t>(size);
  }

  std::size_t read(char* dst, std::size_t capacity) {
    if (gzip_) return inflate_into(dst, capacity);
    if (in_pos_ < in_len_) {  // the block read to sniff the magic bytes
      const std::size_t n = std::min(capacity, in_len_ - in_pos_);
      std::memcpy(dst, in_.data() + in_pos_, n);
      in_pos_ += n;
      return n;
    }
    return fill(dst, capacity);
  }

 private:
  std::size_t fill(void* dst, std::size_t capacity) {
    const std::size_t n = std::fread(dst, 1, capacity, file_.get());
    if (n < capacity && std::ferror(file_.get()))
      throw DataError(path_ + ": read error: " + std::strerror(errno));
    return n;
  }

  [[noreturn]] void corrupt(const char* what) const {
    throw DataError(path_ + ": corrupt gzip stream: " + (what ? what : "unknown zlib error"));
  }

  std::size_t inflate_into(char* dst, std::size_t capacity) {
    zs_.next_out = reinterpret_cast<Bytef*>(dst);
    zs_.avail_out = static_cast<uInt>(std::min<std::size_t>(capacity, 1u << 30));
    const uInt requested = zs_.avail_out;
    while (zs_.avail_out > 0) {
      if (in_pos_ == in_len_) {
        in_len_ = fill(in_.data(), in_.size());
        in_pos_ = 0;
        if (in_len_ == 0) {
          if (!member_ended_) corrupt("unexpected end of file (truncated?)");
          break;
        }
      }
      if (member_ended_) {  // more input after a member: concatenated gzip files are one stream
        inflateReset(&zs_);
        member_ended_ = false;
      }
      zs_.next_in = in_.data() + in_pos_;
      zs_.avail_in = static_cast<uInt>(in_len_ - in_pos_);
      const int status = inflate(&zs_, Z_NO_FLUSH);
      in_pos_ = in_len_ - zs_.avail_in;
      if (status == Z_STREAM_END)
        member_ended_ = true;
      else if (status != Z_OK)
        corrupt(zs_.msg);
    }
    return requested - zs_.avail_out;
  }

  struct CloseFile {
    void operator()(std::FILE* f) const { std::fclose(f); }
  };

  std::string path_;
  std::unique_ptr<std::FILE, CloseFile> file_;
  std::vector<unsigned char> in_;
  std::size_t in_pos_ = 0, in_len_ = 0;
  bool gzip_ = false, member_ended_ = false;
  z_stream zs_{};
};

// Bytes to a new file, gzip-compressed or not; close() also fsyncs, so that a rename after it
// publishes complete data even across a crash.
// Streams text into an already open file, gzip-compressed when asked; the file itself is
// opened, synced and renamed into place by fernet::write_file_atomically.
class FileWriter {
 public:
  FileWriter(std::FILE* file, const std::string& path, bool gzip) : path_(path), gzip_(gzip), file_(file) {
    // Level 1: on pixel text it is 7x faster than the default level 6, for 20% more bytes.
    if (gzip_ && deflateInit2(&zs_, Z_BEST_SPEED, Z_DEFLATED, 15 + 16, 8, Z_DEFAULT_STRATEGY) != Z_OK)
      throw DataError(path_ + ": cannot start zlib: out of memory");
    out_.resize(std::size_t{1} << 20);
  }
  ~FileWriter() {
    if (gzip_) deflateEnd(&zs_);
  }
  FileWriter(const FileWriter&) = delete;
  FileWriter& operator=(const FileWriter&) = delete;

  void write(std::string_view bytes) {
    if (!gzip_) return put(bytes.data(), bytes.size());
    zs_.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(bytes.data()));
    zs_.avail_in = static_cast<uInt>(bytes.size());
    while (zs_.avail_in > 0) deflate_step(Z_NO_FLUSH);
  }

  // Ends the gzip stream (plain files need nothing).
  void finish() {
    if (gzip_)
      while (deflate_step(Z_FINISH) != Z_STREAM_END) {
      }
  }

 private:
  [[noreturn]] void fail(const char* what) const {
    throw DataError(path_ + ": " + what + ": " + std::strerror(errno));
  }

  void put(const void* bytes, std::size_t n) {
    if (std::fwrite(bytes, 1, n, file_) != n) fail("write error");
  }

  int deflate_step(int flush) {
    zs_.next_out = out_.data();
    zs_.avail_out = static_cast<uInt>(out_.size());
    const int status = deflate(&zs_, flush);
    if (status == Z_STREAM_ERROR) throw DataError(path_ + ": zlib deflate failed");
    put(out_.data(), out_.size() - zs_.avail_out);
    return status;
  }

  std::string path_;
  bool gzip_;
  std::FILE* file_ = nullptr;
  std::vector<unsigned char> out_;
  z_stream zs_{};
};

}  // namespace detail

inline Fer2013 parse_fer2013(std::string_view text, std::string_view source_name) {
  detail::Fer2013Parser parser(source_name, text.size());
  const std::string_view last_line = detail::feed_lines(text, parser);
  if (!last_line.empty()) parser.line(last_line);
  return std::move(parser).finish();
}

inline Fer2013 load_fer2013(const std::string& path) {
  detail::FileReader file(path);
  // The real file compresses 3.6:1; a wrong guess only costs a regrowth or unused reservation.
  const std::size_t text_bytes_hint = file.disk_size() * (file.gzip() ? 4 : 1);
  detail::Fer2013Parser parser(path, text_bytes_hint);
  detail::parse_stream([&file](char* dst, std::size_t n) { return file.read(dst, n); }, parser);
  return std::move(parser).finish();
}

// Kaggle format, LF line endings; gzip when `path` ends in ".gz". Written to a temporary file in
// the same directory, then renamed over `path`, so readers never see a half-written file.
inline void write_fer2013_csv(const Fer2013& data, const std::string& path) {
  const std::size_t n = data.size();
  if (data.usage.size() != n || data.pixels.size() != n * image_pixels)
    throw DataError(path + ": inconsistent Fer2013: " + std::to_string(n) + " labels, " +
                    std::to_string(data.usage.size()) + " usages, " +
                    std::to_string(data.pixels.size()) + " pixel bytes");
  for (std::size_t i = 0; i < n; ++i)
    if (data.labels[i] >= num_classes)
      throw DataError(path + ": row " + std::to_string(i) + " has label " +
                      std::to_string(data.labels[i]) + ", outside 0..6");

  const bool gzip = path.size() >= 3 && path.compare(path.size() - 3, 3, ".gz") == 0;
  try {
    write_file_atomically(path, [&](std::FILE* file) {
      detail::FileWriter out(file, path, gzip);
      std::string chunk;
      chunk.reserve(std::size_t{1} << 20);
      chunk.append(detail::fer2013_header).push_back('\n');
      for (std::size_t i = 0; i < n; ++i) {
        chunk += static_cast<char>('0' + data.labels[i]);
        chunk += ',';
        const std::uint8_t* img = data.image(i);
        for (int p = 0; p < image_pixels; ++p) {
          if (p > 0) chunk += ' ';
          const unsigned v = img[p];
          if (v >= 100) chunk += static_cast<char>('0' + v / 100);
          if (v >= 10) chunk += static_cast<char>('0' + v / 10 % 10);
          chunk += static_cast<char>('0' + v % 10);
        }
        chunk += ',';
        chunk.append(split_name(data.usage[i])).push_back('\n');
        if (chunk.size() > chunk.capacity() - 16 * 1024) {  // room for one more row
          out.write(chunk);
          chunk.clear();
        }
      }
      out.write(chunk);
      out.finish();
    });
  } catch (const IoError& e) {
    throw DataError(e.what());  // the data API reports every failure as DataError
  }
}

}  // namespace fernet::data
