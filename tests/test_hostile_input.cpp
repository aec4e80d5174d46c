// Hostile input and faults (project issue 12): size caps on what a small input may make fernet
// allocate, files that are not what they claim, atomic writes and their leftovers, and a process
// killed between or during checkpoint writes, then resumed. The fernet program's own cases
// (eval's --data, images, crafted checkpoints, --out directories) are in tests/cli (case hostile).
#include <doctest/doctest.h>
#include <sys/stat.h>
#include <sys/wait.h>
#include <unistd.h>
#include <zlib.h>

#include <csignal>
#include <cstdlib>
#include <filesystem>
#include <fstream>
#include <memory>
#include <string>
#include <vector>

#include <fernet/atomic_file.hpp>
#include <fernet/checkpoint.hpp>
#include <fernet/data/batches.hpp>
#include <fernet/data/fer2013_file.hpp>
#include <fernet/data/synthetic.hpp>
#include <fernet/fernet.hpp>
#include <fernet/train/trainer.hpp>

using namespace fernet;
namespace fs = std::filesystem;

namespace {
fs::path scratch_dir(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fernet_hostile_" + std::to_string(::getpid())) / name;
  fs::remove_all(dir);
  fs::create_directories(dir);
  return dir;
}

void write_bytes(const fs::path& p, const std::string& bytes) {
  std::ofstream(p, std::ios::binary).write(bytes.data(), static_cast<std::streamsize>(bytes.size()));
}

std::string gzip(const std::string& text) {
  uLongf n = compressBound(static_cast<uLong>(text.size())) + 64;
  std::string out(n, '\0');
  z_stream zs{};
  REQUIRE(deflateInit2(&zs, 9, Z_DEFLATED, 15 + 16, 9, Z_DEFAULT_STRATEGY) == Z_OK);
  zs.next_in = reinterpret_cast<Bytef*>(const_cast<char*>(text.data()));
  zs.avail_in = static_cast<uInt>(text.size());
  zs.next_out = reinterpret_cast<Bytef*>(out.data());
  zs.avail_out = static_cast<uInt>(out.size());
  REQUIRE(deflate(&zs, Z_FINISH) == Z_STREAM_END);
  out.resize(zs.total_out);
  deflateEnd(&zs);
  return out;
}

mode_t mode_of(const fs::path& p) {
  struct stat st {};
  REQUIRE(::stat(p.c_str(), &st) == 0);
  return st.st_mode & 0777;
}

std::vector<fs::path> temporaries(const fs::path& dir) {
  std::vector<fs::path> out;
  for (const auto& e : fs::directory_iterator(dir))
    if (e.path().filename().string().find(".tmp.") != std::string::npos) out.push_back(e.path());
  return out;
}
}  // namespace

TEST_CASE("hostile input: a CSV line longer than the cap is an error, whatever the file's size") {
  const auto dir = scratch_dir("csv");
  // 8 MiB without a newline; before the cap the reader grew its buffer to hold all of it.
  const std::string no_newline = "emotion,pixels,Usage\n" + std::string(8 << 20, '7');
  write_bytes(dir / "long.csv", no_newline);
  CHECK_THROWS_WITH_AS(data::load_fer2013((dir / "long.csv").string()),
                       doctest::Contains("long.csv:2: line is longer than 65536 bytes"), data::DataError);
  // The same as a gzip bomb: 8 KiB on disk.
  const std::string bomb = gzip(no_newline);
  CHECK(bomb.size() < 64 * 1024);
  write_bytes(dir / "bomb.csv.gz", bomb);
  CHECK_THROWS_WITH_AS(data::load_fer2013((dir / "bomb.csv.gz").string()),
                       doctest::Contains("bomb.csv.gz:2: line is longer than 65536 bytes"), data::DataError);
  CHECK_THROWS_WITH_AS(data::parse_fer2013(no_newline, "text"), doctest::Contains("text:2: line is longer"),
                       data::DataError);
  // An endless source (before the cap: memory grew until the process failed).
  CHECK_THROWS_WITH_AS(data::load_fer2013("/dev/zero"), doctest::Contains("/dev/zero:1: line is longer"),
                       data::DataError);
  // A valid row is far below the cap: 2304 pixels of 3 digits.
  std::string row = "emotion,pixels,Usage\r\n6,";
  for (int i = 0; i < 2304; ++i) row += i ? " 255" : "255";
  row += ",PrivateTest\r\n";
  CHECK(data::parse_fer2013(row, "max").size() == 1);
}

TEST_CASE("hostile input: a checkpoint is checked before it is read whole") {
  const auto dir = scratch_dir("checkpoint");
  CHECK_THROWS_WITH_AS(Checkpoint::load("/dev/zero"), doctest::Contains("'/dev/zero' is not a regular file"),
                       CheckpointError);
  CHECK_THROWS_WITH_AS(Checkpoint::load(dir.string()), doctest::Contains("is not a regular file"), CheckpointError);
  write_bytes(dir / "big.txt", std::string(1 << 20, 'x'));
  CHECK_THROWS_WITH_AS(Checkpoint::load((dir / "big.txt").string()), doctest::Contains("missing the FERNETCK header"),
                       CheckpointError);
  write_bytes(dir / "short", "FERN");
  CHECK_THROWS_WITH_AS(Checkpoint::load((dir / "short").string()), doctest::Contains("missing the FERNETCK header"),
                       CheckpointError);
  // A section count larger than the file: refused, nothing allocated for it.
  Checkpoint c;
  c.set_section("parameters", std::vector<float>{1.f, 2.f});
  c.save((dir / "ok.fernet").string());
  std::ifstream in(dir / "ok.fernet", std::ios::binary);
  std::string bytes((std::istreambuf_iterator<char>(in)), {});
  const std::string name = "parameters";
  const auto at = bytes.find(name) + name.size();
  const std::uint64_t huge = std::uint64_t{1} << 40;
  bytes.replace(at, 8, reinterpret_cast<const char*>(&huge), 8);
  const std::uint64_t sum = fnv1a(bytes.data(), bytes.size() - 8);
  bytes.replace(bytes.size() - 8, 8, reinterpret_cast<const char*>(&sum), 8);
  write_bytes(dir / "huge.fernet", bytes);
  CHECK_THROWS_WITH_AS(Checkpoint::load((dir / "huge.fernet").string()),
                       doctest::Contains("section 'parameters' is truncated"), CheckpointError);
}

// Found by tests/fuzz/fuzz_checkpoint (UBSan: memcpy from a null pointer for an empty section).
TEST_CASE("hostile input: a checkpoint with empty sections round-trips") {
  const auto dir = scratch_dir("empty_sections");
  Checkpoint c;
  c.set_section("buffers", std::vector<float>{});
  c.set_section("parameters", std::vector<float>{});
  c.save((dir / "e.fernet").string());
  const Checkpoint back = Checkpoint::load((dir / "e.fernet").string());
  CHECK(back.sections.at("buffers").empty());
  std::vector<float> none;
  back.copy_section("parameters", none, "e.fernet");
}

TEST_CASE("atomic files: the umask and a replaced file's mode are kept; the directory is synced") {
  const auto dir = scratch_dir("modes");
  const mode_t old_mask = ::umask(077);
  write_text_atomically((dir / "private").string(), "x");
  ::umask(022);
  write_text_atomically((dir / "shared").string(), "x");
  ::umask(old_mask);
  CHECK(mode_of(dir / "private") == 0600);  // before: widened to 0644 whatever the umask
  CHECK(mode_of(dir / "shared") == 0644);
  fs::permissions(dir / "shared", fs::perms(0640));
  write_text_atomically((dir / "shared").string(), "y");
  CHECK(mode_of(dir / "shared") == 0640);
}

TEST_CASE("atomic files: a process killed while writing leaves the old file; its temporary is removed later") {
  const auto dir = scratch_dir("killed");
  const auto target = dir / "model.fernet";
  write_text_atomically(target.string(), "old");
  const pid_t child = ::fork();
  REQUIRE(child >= 0);
  if (child == 0) {  // half a file written, then killed: no destructor, no unlink
    write_file_atomically(target.string(), [](std::FILE* f) {
      std::fputs("half of the new", f);
      std::fflush(f);
      ::raise(SIGKILL);
    });
    ::_exit(0);
  }
  int status = 0;
  REQUIRE(::waitpid(child, &status, 0) == child);
  REQUIRE(WIFSIGNALED(status));
  std::ifstream in(target);
  std::string text;
  std::getline(in, text);
  CHECK(text == "old");
  REQUIRE(temporaries(dir).size() == 1);  // the killed writer's
  // A temporary of a live process (this one's parent) is left alone.
  const auto live = dir / (".model.fernet.tmp." + std::to_string(::getppid()) + ".AbCdEf");
  write_bytes(live, "busy");
  write_text_atomically(target.string(), "new");
  const auto left = temporaries(dir);
  CHECK(left.size() == 1);
  CHECK((left.size() == 1 && left[0] == live));
}

// ---- a training run killed between or during its checkpoint writes, then resumed ----
namespace {
using TinyNet = Sequential<Input<1, 48, 48>, Flatten, Linear<2304, 7>, LogSoftmax>;
constexpr int fault_epochs = 4;

struct FaultRun {
  std::vector<float> last_parameters, best_parameters;
  double best_accuracy = -1;
};

// Trains TinyNet on synthetic faces into dir (last.fernet, model.fernet), resuming from
// dir/last.fernet when it exists; `hook` is the Trainer's after_checkpoint_write.
FaultRun train_into(const fs::path& dir, std::function<void(const std::string&)> hook = {}) {
  data::SyntheticOptions o;
  o.training = 300;
  o.public_test = 150;
  o.seed = 21;
  const auto ds = data::make_synthetic(o);
  const auto train = ds.split(data::Split::Training), test = ds.split(data::Split::PublicTest);
  auto net = std::make_unique<TinyNet>(5);
  Adam opt(*net, {.lr = 3e-3f});
  data::BatchLoader tl(train, 50, data::preprocess::centered, true, 5);
  data::BatchLoader el(test, 150, data::preprocess::centered, false, 5);
  TrainConfig cfg;
  cfg.model_name = "tiny";
  cfg.epochs = fault_epochs;
  cfg.progress = false;
  cfg.last_checkpoint = (dir / "last.fernet").string();
  cfg.best_checkpoint = (dir / "model.fernet").string();
  cfg.after_checkpoint_write = std::move(hook);
  Trainer<NLLLoss, TinyNet, Adam> t(*net, opt, cfg);
  if (fs::exists(cfg.last_checkpoint)) t.resume(cfg.last_checkpoint);
  t.fit(tl, &el);
  FaultRun r;
  r.last_parameters.assign(net->parameters().begin(), net->parameters().end());
  const Checkpoint best = Checkpoint::load(cfg.best_checkpoint);
  r.best_parameters = best.sections.at("parameters");
  r.best_accuracy = t.best_accuracy();
  return r;
}
}  // namespace

// Run in a child process by the test below (doctest --no-skip): trains, and kills itself with
// SIGKILL right after the Nth checkpoint write (FERNET_FAULT_KILL_AFTER), or, with
// FERNET_FAULT_DURING, half-way through the write after it.
TEST_CASE("faults: child process killed at a checkpoint write" * doctest::skip(true)) {
  const char* dir = std::getenv("FERNET_FAULT_DIR");
  const char* after = std::getenv("FERNET_FAULT_KILL_AFTER");
  REQUIRE((dir && after));
  const int kill_after = std::atoi(after);
  const bool during = std::getenv("FERNET_FAULT_DURING") != nullptr;
  int writes = 0;
  train_into(dir, [&](const std::string&) {
    if (++writes != kill_after) return;
    if (during)  // the next write cut short: a partial temporary, the files untouched
      write_file_atomically((fs::path(dir) / "last.fernet").string(), [](std::FILE* f) {
        std::fputs("partial", f);
        std::fflush(f);
        ::raise(SIGKILL);
      });
    ::raise(SIGKILL);
  });
  std::_Exit(3);  // never killed: the parent reports it
}

TEST_CASE("faults: a run killed between or during checkpoint writes resumes to the same models") {
  const auto straight_dir = scratch_dir("straight");
  const FaultRun straight = train_into(straight_dir);
  // How many checkpoint writes an uninterrupted run makes (last.fernet every epoch, model.fernet
  // whenever accuracy improves), so that every gap between two writes is tried.
  int total_writes = 0;
  train_into(scratch_dir("count"), [&](const std::string&) { ++total_writes; });
  REQUIRE(total_writes > fault_epochs);  // model.fernet was written at least once besides last.fernet
  for (const bool during : {false, true}) {
    for (int n = 1; n <= total_writes; ++n) {
      CAPTURE(n);
      CAPTURE(during);
      const auto dir = scratch_dir("killed_" + std::to_string(n) + (during ? "_during" : ""));
      const pid_t child = ::fork();
      REQUIRE(child >= 0);
      if (child == 0) {
        ::setenv("FERNET_FAULT_DIR", dir.c_str(), 1);
        ::setenv("FERNET_FAULT_KILL_AFTER", std::to_string(n).c_str(), 1);
        if (during) ::setenv("FERNET_FAULT_DURING", "1", 1);
        // A fresh process (exec), not a forked copy: OpenMP's threads do not survive fork.
        if (!std::freopen("/dev/null", "w", stdout)) ::_exit(126);
        ::execl("/proc/self/exe", "fernet_tests", "--no-skip", "-tc=faults: child process killed*", "--no-breaks",
                static_cast<char*>(nullptr));
        ::_exit(127);
      }
      int status = 0;
      REQUIRE(::waitpid(child, &status, 0) == child);
      REQUIRE_MESSAGE((WIFSIGNALED(status) && WTERMSIG(status) == SIGKILL), "child status " << status);
      const auto last = dir / "last.fernet", best = dir / "model.fernet";
      if (fs::exists(last)) {
        // Whatever last.fernet promises as the best accuracy so far, model.fernet holds.
        REQUIRE(fs::exists(best));
        const double promised = std::stod(Checkpoint::load(last.string()).get("best_accuracy"));
        const double held = std::stod(Checkpoint::load(best.string()).get("best_accuracy"));
        CHECK(held >= promised);
      }
      const FaultRun resumed = train_into(dir);
      CHECK(resumed.last_parameters == straight.last_parameters);
      CHECK(resumed.best_parameters == straight.best_parameters);
      CHECK(resumed.best_accuracy == straight.best_accuracy);
      if (n < total_writes) CHECK(temporaries(dir).empty());  // removed by the resumed run's next write
    }
  }
}
