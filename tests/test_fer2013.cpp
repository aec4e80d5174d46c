// The FER2013 CSV loader: good input in every accepted shape, every kind of bad input (each
// reported with its line number and problem), files plain and gzip, and the shared real file.
#include <doctest/doctest.h>

#include <cstdio>
#include <unistd.h>
#include <zlib.h>

#include <atomic>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <iterator>
#include <string>
#include <vector>

#include <fernet/data/fer2013.hpp>
#include <fernet/data/fer2013_source.hpp>

namespace {

using namespace fernet::data;
namespace fs = std::filesystem;

// Varied pixels (one, two and three digits, 0 and 255) that differ from image to image.
std::vector<std::uint8_t> test_image(std::size_t seed) {
  std::vector<std::uint8_t> img(image_pixels);
  std::uint32_t x = static_cast<std::uint32_t>(seed) * 2654435761u + 12345u;
  for (auto& p : img) {
    x = x * 1664525u + 1013904223u;
    p = static_cast<std::uint8_t>(x >> 24);
  }
  img[0] = 0;
  img[1] = 255;
  return img;
}

Fer2013 test_data(std::size_t n) {
  Fer2013 d;
  const Split splits[] = {Split::Training, Split::PublicTest, Split::PrivateTest};
  for (std::size_t i = 0; i < n; ++i) d.append(test_image(i).data(), static_cast<int>(i % num_classes), splits[i % 3]);
  return d;
}

std::string pixel_text(const std::vector<std::uint8_t>& img) {
  std::string s;
  for (std::size_t p = 0; p < img.size(); ++p) s += (p ? " " : "") + std::to_string(img[p]);
  return s;
}

std::string csv_text(const Fer2013& d, const std::string& eol, bool final_newline) {
  std::string s = "emotion,pixels,Usage";
  for (std::size_t i = 0; i < d.size(); ++i) {
    s += eol + std::to_string(d.labels[i]) + ",";
    s += pixel_text({d.image(i), d.image(i) + image_pixels});
    s += "," + std::string(split_name(d.usage[i]));
  }
  return final_newline ? s + eol : s;
}

void check_same(const Fer2013& a, const Fer2013& b) {
  REQUIRE(a.size() == b.size());
  CHECK(a.labels == b.labels);
  CHECK(a.usage == b.usage);
  CHECK(a.pixels == b.pixels);
}

// The DataError message of `f()`, or "" if it threw nothing.
template <class F>
std::string error_of(F&& f) {
  try {
    f();
  } catch (const DataError& e) { return e.what(); }
  return "";
}

std::string parse_error(const std::string& text) {
  return error_of([&] { parse_fer2013(text, "test.csv"); });
}

// A fresh directory under the system temp directory, removed with everything in it.
struct TempDir {
  fs::path path;
  TempDir() {
    static std::atomic<int> counter{0};
    path = fs::temp_directory_path() /
           ("fernet_test_fer2013_" + std::to_string(::getpid()) + "_" + std::to_string(counter++));
    fs::remove_all(path);
    fs::create_directories(path);
  }
  ~TempDir() {
    std::error_code ignored;
    fs::remove_all(path, ignored);
  }
  std::string file(const std::string& name) const { return (path / name).string(); }
};

std::string read_bytes(const std::string& path) {
  std::ifstream in(path, std::ios::binary);
  return {std::istreambuf_iterator<char>(in), {}};
}

void write_bytes(const std::string& path, const std::string& bytes) { std::ofstream(path, std::ios::binary) << bytes; }

}  // namespace

TEST_CASE("fer2013: names of splits and emotions") {
  CHECK(split_name(Split::Training) == "Training");
  CHECK(split_name(Split::PublicTest) == "PublicTest");
  CHECK(split_name(Split::PrivateTest) == "PrivateTest");
  CHECK(parse_split("PublicTest") == Split::PublicTest);
  CHECK_FALSE(parse_split("publictest").has_value());
  CHECK_FALSE(parse_split("Training ").has_value());
  CHECK(emotion_name(0) == "Angry");
  CHECK(emotion_name(1) == "Disgust");
  CHECK(emotion_name(3) == "Happy");
  CHECK(emotion_name(6) == "Neutral");
  CHECK_THROWS_AS(emotion_name(7), std::out_of_range);
  CHECK(image_pixels == image_side * image_side);
}

TEST_CASE("fer2013: parses LF and CRLF, with and without a final newline") {
  const Fer2013 expected = test_data(10);
  for (const std::string eol : {"\n", "\r\n"}) {
    for (const bool final_newline : {true, false}) {
      CAPTURE(eol.size());
      CAPTURE(final_newline);
      check_same(parse_fer2013(csv_text(expected, eol, final_newline), "good.csv"), expected);
    }
  }
  CHECK(parse_fer2013("emotion,pixels,Usage\n", "empty.csv").size() == 0);
  CHECK(parse_fer2013("emotion,pixels,Usage", "empty.csv").size() == 0);
}

TEST_CASE("fer2013: odd but valid values parse exactly") {
  std::vector<std::uint8_t> img(image_pixels, 7);
  std::string pixels = pixel_text(img);
  pixels.replace(0, 1, "007");  // leading zeros
  Fer2013 d = parse_fer2013("emotion,pixels,Usage\n06," + pixels + ",PrivateTest\n", "odd.csv");
  REQUIRE(d.size() == 1);
  CHECK(d.labels[0] == 6);
  CHECK(d.usage[0] == Split::PrivateTest);
  CHECK(std::vector<std::uint8_t>(d.image(0), d.image(0) + image_pixels) == img);
  // A spreadsheet's UTF-8 byte order mark before the header.
  CHECK(parse_fer2013("\xEF\xBB\xBF"
                      "emotion,pixels,Usage\n",
                      "bom.csv")
            .size() == 0);
}

TEST_CASE("fer2013: every malformed input is reported with its line and problem") {
  const std::string good = "0," + pixel_text(test_image(1)) + ",Training";
  const std::string header = "emotion,pixels,Usage\n";
  const auto with_pixels = [](const std::vector<std::string>& values) {
    std::string s;
    for (std::size_t i = 0; i < values.size(); ++i) s += (i ? " " : "") + values[i];
    return s;
  };
  std::vector<std::string> values(image_pixels, "1");
  const auto row_with = [&](std::size_t index, const std::string& value) {
    std::vector<std::string> v = values;
    v[index] = value;
    return "3," + with_pixels(v) + ",Training";
  };
  const auto row_of = [&](std::size_t count) {
    return "3," + with_pixels(std::vector<std::string>(count, "9")) + ",PublicTest";
  };
  struct Case {
    const char* what;
    std::string text;
    std::string expected;  // the message must contain this
  };
  const std::vector<Case> cases = {
      {"empty file", "", "test.csv:1: empty file"},
      {"wrong header", "emotion,pixel,Usage\n" + good,
       "test.csv:1: wrong header \"emotion,pixel,Usage\", expected \"emotion,pixels,Usage\""},
      {"no header", good + "\n", "test.csv:1: wrong header \"0,"},
      {"too few pixels", header + good + "\n" + row_of(2303) + "\n", "test.csv:3: expected 2304 pixels, found 2303"},
      {"too many pixels", header + row_of(2305), "test.csv:2: expected 2304 pixels, found 2305"},
      {"pixels field empty", header + "3,,Training\n", "test.csv:2: expected 2304 pixels, found 0"},
      {"pixel above 255", header + good + "\n" + good + "\n" + row_with(100, "256"),
       "test.csv:4: pixel index 100 value \"256\" is outside 0..255"},
      {"huge pixel", header + row_with(2303, "99999999999999999999"),
       "test.csv:2: pixel index 2303 value \"99999999999999999999\" is outside 0..255"},
      {"negative pixel", header + row_with(0, "-1"), "test.csv:2: pixel index 0 value \"-1\" is outside 0..255"},
      {"pixel not a number", header + row_with(5, "12a"), "test.csv:2: pixel index 5 is not a number: \"12a\""},
      {"last pixel not a number", header + row_with(2303, "x"), "test.csv:2: pixel index 2303 is not a number: \"x\""},
      {"decimal pixel", header + row_with(1000, "1.5"), "test.csv:2: pixel index 1000 is not a number: \"1.5\""},
      {"tab in pixels", header + row_with(7, "1\t2"), "test.csv:2: pixel index 7 is not a number: \"1\\x092\""},
      {"two spaces", header + row_with(50, " 4"), "test.csv:2: pixel index 50 is empty"},
      {"trailing space", header + "1," + with_pixels(values) + " ,Training", "test.csv:2: pixel index 2304 is empty"},
      {"label above 6", header + good + "\n7" + good.substr(1), "test.csv:3: emotion label \"7\" is outside 0..6"},
      {"negative label", header + "-1" + good.substr(1), "test.csv:2: emotion label \"-1\" is outside 0..6"},
      {"label not an integer", header + "x" + good.substr(1), "test.csv:2: emotion label \"x\" is not an integer"},
      {"decimal label", header + "3.0" + good.substr(1), "test.csv:2: emotion label \"3.0\" is not an integer"},
      {"label empty", header + good.substr(1), "test.csv:2: emotion label is empty"},
      {"unknown usage", header + good + "\n" + good + "\n0," + with_pixels(values) + ",Validation",
       "test.csv:4: unknown Usage \"Validation\" (expected Training, PublicTest or PrivateTest)"},
      {"usage in lower case", header + "0," + with_pixels(values) + ",training\n",
       "test.csv:2: unknown Usage \"training\""},
      {"usage empty", header + "0," + with_pixels(values) + ",\n", "test.csv:2: unknown Usage \"\""},
      {"one field", header + "3\n", "test.csv:2: missing field: expected 3 comma-separated fields"},
      {"two fields", header + good + "\n0," + with_pixels(values) + "\n",
       "test.csv:3: missing field: expected 3 comma-separated fields (emotion,pixels,Usage), "
       "found 2"},
      {"extra field", header + good + ",extra\n",
       "test.csv:2: extra field: expected 3 comma-separated fields (emotion,pixels,Usage), found "
       "4"},
      {"empty line inside", header + good + "\n\n" + good + "\n", "test.csv:3: empty line"},
      {"blank line at the end", header + good + "\n\n", "test.csv:3: empty line"},
      {"CRLF file, error on line 3", "emotion,pixels,Usage\r\n" + good + "\r\n" + row_of(5) + "\r\n",
       "test.csv:3: expected 2304 pixels, found 5"},
      {"stray carriage return", header + good + "\r\r\n", "test.csv:2: unknown Usage \"Training\\x0d\""},
  };
  for (const Case& c : cases) {
    CAPTURE(c.what);
    const std::string message = parse_error(c.text);
    CAPTURE(message);
    CHECK(message.find(c.expected) != std::string::npos);
  }
}

TEST_CASE("fer2013: split() keeps order, class_counts() counts") {
  const Fer2013 d = test_data(30);  // label i % 7, split i % 3
  const Fer2013 pub = d.split(Split::PublicTest);
  REQUIRE(pub.size() == 10);
  for (std::size_t k = 0; k < pub.size(); ++k) {
    const std::size_t i = 3 * k + 1;
    CHECK(pub.labels[k] == d.labels[i]);
    CHECK(pub.usage[k] == Split::PublicTest);
    CHECK(std::equal(pub.image(k), pub.image(k) + image_pixels, d.image(i)));
  }
  CHECK(d.split(Split::Training).size() + pub.size() + d.split(Split::PrivateTest).size() == 30);
  const std::array<std::size_t, 7> counts = {5, 5, 4, 4, 4, 4, 4};
  CHECK(d.class_counts() == counts);
  Fer2013 bad;
  CHECK_THROWS_AS(bad.append(test_image(0).data(), 7, Split::Training), DataError);
}

TEST_CASE("fer2013: files round-trip, plain and gzip, recognised by content") {
  TempDir dir;
  const Fer2013 data = test_data(300);  // ~2.6 MB of text: spans several read and write buffers
  const std::string plain = dir.file("data.csv"), gz = dir.file("data.csv.gz");
  write_fer2013_csv(data, plain);
  write_fer2013_csv(data, gz);
  CHECK(read_bytes(plain) == csv_text(data, "\n", true));
  const std::string gz_bytes = read_bytes(gz);
  REQUIRE(gz_bytes.size() > 2);
  CHECK(static_cast<unsigned char>(gz_bytes[0]) == 0x1f);
  CHECK(static_cast<unsigned char>(gz_bytes[1]) == 0x8b);
  check_same(load_fer2013(plain), data);
  check_same(load_fer2013(gz), data);

  // The format is told by the magic bytes, not the name.
  fs::copy_file(gz, dir.file("looks_plain.csv"));
  fs::copy_file(plain, dir.file("looks_gzipped.gz"));
  check_same(load_fer2013(dir.file("looks_plain.csv")), data);
  check_same(load_fer2013(dir.file("looks_gzipped.gz")), data);

  // CRLF files load too, and error messages name the file.
  write_bytes(dir.file("crlf.csv"), csv_text(data, "\r\n", false));
  check_same(load_fer2013(dir.file("crlf.csv")), data);
  write_bytes(dir.file("bad.csv"), csv_text(test_data(3), "\n", true) + "9,1 2,Training\n");
  CHECK(error_of([&] { load_fer2013(dir.file("bad.csv")); }).find(dir.file("bad.csv") + ":5: ") == 0);

  // Overwriting replaces the file whole, and no temporary file is left behind.
  const Fer2013 smaller = test_data(4);
  write_fer2013_csv(smaller, gz);
  check_same(load_fer2013(gz), smaller);
  write_fer2013_csv(Fer2013{}, plain);
  CHECK(load_fer2013(plain).size() == 0);
  std::size_t files = 0;
  for (const auto& entry : fs::directory_iterator(dir.path)) {
    CAPTURE(entry.path().string());
    CHECK(entry.path().string().find(".tmp") == std::string::npos);
    ++files;
  }
  CHECK(files == 6);
}

TEST_CASE("fer2013: concatenated gzip members read as one file") {
  TempDir dir;
  const Fer2013 data = test_data(20);
  const std::string text = csv_text(data, "\n", true);
  const std::string path = dir.file("members.csv.gz");
  const std::size_t half = text.size() / 2 + 17;  // splits a row
  for (const auto& [mode, part] : {std::pair{"wb", text.substr(0, half)}, std::pair{"ab", text.substr(half)}}) {
    gzFile f = gzopen(path.c_str(), mode);
    REQUIRE(f != nullptr);
    CHECK(gzwrite(f, part.data(), static_cast<unsigned>(part.size())) == static_cast<int>(part.size()));
    CHECK(gzclose(f) == Z_OK);
  }
  check_same(load_fer2013(path), data);
}

TEST_CASE("fer2013: file errors") {
  TempDir dir;
  const std::string missing = dir.file("no_such_file.csv");
  std::string message = error_of([&] { load_fer2013(missing); });
  CHECK(message.find(missing) != std::string::npos);
  CHECK(message.find("No such file or directory") != std::string::npos);

  message = error_of([&] { load_fer2013(dir.path.string()); });
  CAPTURE(message);
  CHECK(message.find("Is a directory") != std::string::npos);

  write_bytes(dir.file("empty.csv"), "");
  CHECK(error_of([&] { load_fer2013(dir.file("empty.csv")); }) ==
        dir.file("empty.csv") + ":1: empty file (expected the header \"emotion,pixels,Usage\")");

  const std::string gz = dir.file("good.csv.gz");
  write_fer2013_csv(test_data(50), gz);
  const std::string bytes = read_bytes(gz);
  const auto corrupt_gzip = [&](const std::string& name, const std::string& damaged) {
    write_bytes(dir.file(name), damaged);
    return error_of([&] { load_fer2013(dir.file(name)); });
  };
  message = corrupt_gzip("truncated.gz", bytes.substr(0, bytes.size() / 2));
  CAPTURE(message);
  CHECK(message.find("corrupt gzip stream") != std::string::npos);
  CHECK(message.find("unexpected end of file") != std::string::npos);

  std::string bad_method = bytes;
  bad_method[2] = 7;  // compression method: only 8 (deflate) exists
  message = corrupt_gzip("bad_method.gz", bad_method);
  CHECK(message.find("corrupt gzip stream") != std::string::npos);

  std::string bad_crc = bytes;
  bad_crc[bad_crc.size() - 8] ^= 0x55;  // trailer: CRC-32 then length
  message = corrupt_gzip("bad_crc.gz", bad_crc);
  CHECK(message.find("corrupt gzip stream: incorrect data check") != std::string::npos);

  message = error_of([&] { write_fer2013_csv(test_data(1), dir.file("no_dir/out.csv")); });
  CHECK(message.find(dir.file("no_dir/out.csv")) != std::string::npos);
  CHECK(message.find("No such file or directory") != std::string::npos);

  Fer2013 inconsistent = test_data(2);
  inconsistent.pixels.pop_back();
  CHECK(error_of([&] { write_fer2013_csv(inconsistent, dir.file("x.csv")); }).find("inconsistent") !=
        std::string::npos);
  CHECK_FALSE(fs::exists(dir.file("x.csv")));
}

// A line longer than the read buffer used to grow the buffer without bound (issue 12); it is
// refused at max_line_bytes, long before the buffer fills (tests/test_hostile_input.cpp has more).
TEST_CASE("fer2013: a line longer than the read buffer is refused at the line cap") {
  TempDir dir;
  const std::string row = "3," + std::string(3'000'000, '1') + ",Training\n";
  write_bytes(dir.file("long.csv"), "emotion,pixels,Usage\n" + row);
  const std::string message = error_of([&] { load_fer2013(dir.file("long.csv")); });
  CHECK(message == dir.file("long.csv") +
                       ":2: line is longer than 65536 bytes (a FER2013 row is at most 9231): not a FER2013 CSV "
                       "file, or a missing newline");
}

TEST_CASE("fer2013: the shared development file (FERNET_SHARED_DATA_DIR)") {
  const std::string path = FERNET_SHARED_DATA_DIR "/fer2013-dev.csv.gz";
  if (!fs::exists(path)) {
    std::printf("[fernet: skipped] %s not found (the real FER2013 file is not on this machine)\n", path.c_str());
    return;
  }
  const Fer2013 all = load_fer2013(path);
  CHECK(all.size() == 32298);
  const Fer2013 training = all.split(Split::Training), public_test = all.split(Split::PublicTest);
  CHECK(training.size() == 28709);
  CHECK(public_test.size() == 3589);
  CHECK(all.split(Split::PrivateTest).size() == 0);
  const std::array<std::size_t, 7> training_counts = {3995, 436, 4097, 7215, 4830, 3171, 4965};
  const std::array<std::size_t, 7> public_counts = {467, 56, 496, 895, 653, 415, 607};
  CHECK(training.class_counts() == training_counts);
  CHECK(public_test.class_counts() == public_counts);
  CHECK(all.pixels.size() == all.size() * image_pixels);
}

TEST_CASE("fer2013: a data set is viewed as labelled 1x48x48 grey images") {
  const Fer2013 d = test_data(5);
  const LabelledImages v = d;
  CHECK(v.shape() == ImageShape{1, image_side, image_side});
  REQUIRE(v.size() == 5);
  for (std::size_t i = 0; i < 5; ++i) {
    CHECK(v.image(i) == d.image(i));
    CHECK(v.label(i) == d.labels[i]);
  }
}

TEST_CASE("fer2013: the default data file honours FERNET_DEFAULT_DATA") {
  const char* before = std::getenv("FERNET_DEFAULT_DATA");
  const std::string saved = before ? before : "";
  const fs::path file = fs::temp_directory_path() / ("fernet_default_" + std::to_string(::getpid()) + ".csv");
  write_bytes(file.string(), "emotion,pixels,Usage\n");
  ::setenv("FERNET_DEFAULT_DATA", file.c_str(), 1);
  CHECK(default_data_path() == fs::weakly_canonical(file).string());
  ::setenv("FERNET_DEFAULT_DATA", "", 1);
  CHECK(default_data_path().empty());  // empty: none, programs use the synthetic faces
  ::setenv("FERNET_DEFAULT_DATA", (file.string() + ".missing").c_str(), 1);
  CHECK(default_data_path().empty());
  if (before) ::setenv("FERNET_DEFAULT_DATA", saved.c_str(), 1);
  else ::unsetenv("FERNET_DEFAULT_DATA");
  fs::remove(file);
}

TEST_CASE("fer2013: a program's data: the file or the synthetic faces, and the two splits it uses") {
  const Fer2013 d = test_data(7);  // split i % 3
  const TrainingSplits s = training_splits(d, Split::PrivateTest, "t.csv");
  CHECK(s.train.size() == 3);
  CHECK(s.eval.size() == 2);
  CHECK(s.eval.labels[1] == d.labels[5]);
  CHECK(split_counts(d) == "3 Training, 2 PublicTest, 2 PrivateTest rows");
  Fer2013 training_only;
  training_only.append(test_image(0).data(), 1, Split::Training);
  CHECK_THROWS_WITH_AS(training_splits(training_only, Split::PublicTest, "t.csv"),
                       "t.csv: no PublicTest rows to evaluate on (1 Training, 0 PublicTest, 0 PrivateTest rows); "
                       "choose another evaluation split",
                       DataError);
  CHECK_THROWS_WITH_AS(training_splits(Fer2013{}, Split::PublicTest, "empty.csv"),
                       "empty.csv: no Training rows to train on (0 Training, 0 PublicTest, 0 PrivateTest rows)",
                       DataError);
  std::string description;
  const Fer2013 synthetic = load_fer2013_or_synthetic("", description);
  CHECK(description == "built-in synthetic faces");
  CHECK(synthetic.size() == 8400);
}
