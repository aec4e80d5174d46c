#pragma once
// FER2013's CSV text: header `emotion,pixels,Usage`, then one row per 48x48 grey image:
//   3,70 80 82 ... (2304 values 0..255),Training
// The parser is strict: any malformed row throws DataError "<source>:<line>: <problem>" (line
// numbers 1-based, the header is line 1; pixel indices 0-based), nothing is skipped. LF or CRLF
// line endings. Files (plain or gzip) are read and written by fer2013_file.hpp.
// Parsing is hand-written because the full file is 301 MB of text: iostreams or std::stoi per
// value would take tens of seconds; this parses about half a gigabyte a second, so loading a
// .gz is bounded by zlib's inflate.
#if defined(__SSE2__)
#include <emmintrin.h>
#endif

#include <algorithm>
#include <array>
#include <bit>
#include <cstdint>
#include <cstring>
#include <string>
#include <string_view>
#include <utility>
#include <vector>

#include "fer2013_dataset.hpp"

namespace fernet::data {

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

// The longest line the parser accepts. A valid row is at most 9,231 bytes (label, 2304 values of
// up to 3 digits and their spaces, "PrivateTest", CR); the cap keeps a file without newlines
// (a gzip bomb, /dev/zero) from growing the line buffer without bound.
inline constexpr std::size_t max_line_bytes = std::size_t{1} << 16;

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
    if (text.size() > max_line_bytes) line_too_long(line_no_);
    if (!text.empty() && text.back() == '\r') text.remove_suffix(1);
    if (line_no_ == 1) header(text);
    else row(text);
  }

  Fer2013 finish() && {
    if (line_no_ == 0) fail(1, "empty file (expected the header " + quoted(fer2013_header) + ")");
    return std::move(out_);
  }

  // The line after the last one given is longer than max_line_bytes (found while reading it).
  [[noreturn]] void next_line_too_long() const { line_too_long(line_no_ + 1); }

 private:
  [[noreturn]] void line_too_long(std::size_t line_no) const {
    fail(line_no, "line is longer than " + std::to_string(max_line_bytes) +
                      " bytes (a FER2013 row is at most 9231): not a FER2013 CSV file, or a missing newline");
  }

  [[noreturn]] void fail(std::size_t line_no, const std::string& problem) const {
    throw DataError(source_ + ":" + std::to_string(line_no) + ": " + problem);
  }
  [[noreturn]] void fail(const std::string& problem) const { fail(line_no_, problem); }

  void header(std::string_view text) {
    constexpr std::string_view utf8_bom = "\xEF\xBB\xBF";  // spreadsheet programs add it
    if (text.substr(0, utf8_bom.size()) == utf8_bom) text.remove_prefix(utf8_bom.size());
    if (text != fer2013_header) fail("wrong header " + quoted(text) + ", expected " + quoted(fer2013_header));
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
      fail("extra field: expected 3 comma-separated fields (emotion,pixels,Usage), found " + std::to_string(fields));
    }
    const int label = parse_label({begin, static_cast<std::size_t>(comma1 - begin)});
    parse_pixels(comma1 + 1, comma2);
    const std::string_view usage_text(comma2 + 1, static_cast<std::size_t>(end - comma2 - 1));
    const auto which = parse_split(usage_text);
    if (!which) fail("unknown Usage " + quoted(usage_text) + " (expected Training, PublicTest or PrivateTest)");
    out_.append(row_.data(), label, *which);
  }

  int parse_label(std::string_view text) const {
    if (text.size() == 1 && text[0] >= '0' && text[0] <= '6') return text[0] - '0';  // fast path
    if (text.empty()) fail("emotion label is empty, expected an integer 0..6");
    const std::string_view digits = text[0] == '-' ? text.substr(1) : text;
    const bool is_integer =
        !digits.empty() && std::all_of(digits.begin(), digits.end(), [](char c) { return c >= '0' && c <= '9'; });
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
        const __m128i digit =
            _mm_and_si128(_mm_cmpgt_epi8(c, _mm_set1_epi8('0' - 1)), _mm_cmplt_epi8(c, _mm_set1_epi8('9' + 1)));
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
        const unsigned value = (aligned & 0xFF) * 100 + ((aligned >> 8) & 0xFF) * 10 + ((aligned >> 16) & 0xFF);
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
    if (text.empty()) fail(where + " is empty (two spaces in a row, or a leading or trailing space)");
    const std::string_view digits = text[0] == '-' ? text.substr(1) : text;
    const bool is_integer = !digits.empty() && digits.find_first_not_of("0123456789") == std::string_view::npos;
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
// straddle reads, and the last line needs no '\n'. Memory stays bounded: a line longer than
// max_line_bytes is an error as soon as that many bytes of it have arrived.
template <class Read>
void parse_stream(Read&& read, Fer2013Parser& parser) {
  static_assert(max_line_bytes < (std::size_t{1} << 20));
  std::vector<char> buffer(std::size_t{1} << 20);
  std::size_t filled = 0;
  for (;;) {
    const std::size_t got = read(buffer.data() + filled, buffer.size() - filled);
    if (got == 0) break;
    filled += got;
    const std::string_view rest = feed_lines({buffer.data(), filled}, parser);
    if (rest.size() > max_line_bytes) parser.next_line_too_long();
    std::memmove(buffer.data(), rest.data(), rest.size());
    filled = rest.size();
  }
  if (filled > 0) parser.line({buffer.data(), filled});
}

// One row in the Kaggle format, with its '\n'.
inline void append_fer2013_row(std::string& out, int label, const std::uint8_t* img, Split usage) {
  out += static_cast<char>('0' + label);
  out += ',';
  for (int p = 0; p < image_pixels; ++p) {
    if (p > 0) out += ' ';
    const unsigned v = img[p];
    if (v >= 100) out += static_cast<char>('0' + v / 100);
    if (v >= 10) out += static_cast<char>('0' + v / 10 % 10);
    out += static_cast<char>('0' + v % 10);
  }
  out += ',';
  out.append(split_name(usage)).push_back('\n');
}

}  // namespace detail

inline Fer2013 parse_fer2013(std::string_view text, std::string_view source_name) {
  detail::Fer2013Parser parser(source_name, text.size());
  const std::string_view last_line = detail::feed_lines(text, parser);
  if (!last_line.empty()) parser.line(last_line);
  return std::move(parser).finish();
}

}  // namespace fernet::data
