// fernet: the command-line program for the whole FER2013 job without writing C++.
//   fernet train --model NAME [--data FILE] [--epochs N --batch N --lr X --seed N --threads N] --out DIR
//   fernet train --resume DIR
//   fernet eval --load FILE [--data FILE] [--split NAME] [--json]
//   fernet predict --load FILE IMAGE... | --csv FILE [--out FILE]
//   fernet synth --rows N --out FILE.csv[.gz]
//   fernet info [--checkpoint FILE]
// Exit codes: 0 success, 1 an error (file, data, checkpoint), 2 a usage error (flag or value),
// 128 + signal when training was interrupted by SIGINT/SIGTERM (the run can be resumed).
#include <CLI/CLI.hpp>
#include <nlohmann/json.hpp>

#include <atomic>
#include <chrono>
#include <cmath>
#include <csignal>
#include <cstdio>
#include <cstdlib>
#include <cstring>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <sstream>
#include <string>
#include <thread>
#include <vector>

#include <fernet/atomic_file.hpp>
#include <fernet/checkpoint.hpp>
#include <fernet/data/fer2013.hpp>
#include <fernet/data/synthetic.hpp>
#include <fernet/device/select.hpp>
#include <fernet/parallel.hpp>
#include <fernet/simd.hpp>
#include <fernet/version.hpp>

#include "images.hpp"
#include "models.hpp"
#include "plots.hpp"
#include "report.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;
using namespace fernet;
using namespace fernet::app;

namespace {

// ---- signals: the handler only stores ------------------------------------------------------------
std::atomic<bool> g_stop{false};
std::atomic<int> g_signal{0};
static_assert(std::atomic<bool>::is_always_lock_free && std::atomic<int>::is_always_lock_free);

extern "C" void on_stop_signal(int sig) {
  g_signal.store(sig);
  g_stop.store(true);
}

class StopSignals {  // SIGINT / SIGTERM set the stop flag while alive; a second Ctrl-C kills
 public:
  StopSignals() {
    struct sigaction sa {};
    sa.sa_handler = on_stop_signal;
    sigemptyset(&sa.sa_mask);
    sa.sa_flags = SA_RESETHAND;  // the second signal gets the default action
    sigaction(SIGINT, &sa, &old_int_);
    sigaction(SIGTERM, &sa, &old_term_);
  }
  ~StopSignals() {
    sigaction(SIGINT, &old_int_, nullptr);
    sigaction(SIGTERM, &old_term_, nullptr);
  }

 private:
  struct sigaction old_int_ {}, old_term_ {};
};

// ---- errors ---------------------------------------------------------------------------------
struct UsageError : std::runtime_error {  // exit code 2
  using std::runtime_error::runtime_error;
};

// ---- small helpers ----------------------------------------------------------------------------
std::string shell_quote(const std::string& s) {
  if (!s.empty() && s.find_first_not_of("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789-_./=:,+@%") ==
                        std::string::npos)
    return s;
  std::string q = "'";
  for (char c : s) q += c == '\'' ? std::string("'\\''") : std::string(1, c);
  return q + "'";
}

std::string command_line(int argc, char** argv) {
  std::string s;
  for (int i = 0; i < argc; ++i) s += (i ? " " : "") + shell_quote(argv[i]);
  return s;
}

// The FER2013 file used when no --data is given. FERNET_DEFAULT_DATA overrides the search (an
// empty value means none: the synthetic set).
std::string default_data_path() {
  if (const char* env = std::getenv("FERNET_DEFAULT_DATA"))
    return *env && fs::exists(env) ? fs::weakly_canonical(env).string() : std::string();
  for (const char* p : {"../shared/data/fer2013-dev.csv.gz", FERNET_SOURCE_DIR "/../shared/data/fer2013-dev.csv.gz"})
    if (fs::exists(p)) return fs::weakly_canonical(p).string();
  return {};
}

std::string iso_time_now() {
  const std::time_t t = std::time(nullptr);
  char buf[64];
  std::strftime(buf, sizeof buf, "%Y-%m-%dT%H:%M:%S%z", std::localtime(&t));
  return buf;
}

// A file the user named as input: a clear message when it is missing or not a file.
void require_input_file(const std::string& path, const std::string& what) {
  std::error_code ec;
  if (!fs::exists(path, ec)) throw std::runtime_error(what + " '" + path + "' does not exist");
  if (fs::is_directory(path, ec)) throw std::runtime_error(what + " '" + path + "' is a directory, not a file");
  std::FILE* f = std::fopen(path.c_str(), "rb");
  if (!f) throw std::runtime_error("cannot read " + what + " '" + path + "': " + std::strerror(errno));
  std::fclose(f);
}

data::Fer2013 load_data(const std::string& path, std::string& description) {
  if (path.empty()) {
    description = "built-in synthetic faces";
    return data::make_synthetic();
  }
  require_input_file(path, "data file");
  description = path;
  return data::load_fer2013(path);
}

std::string split_counts(const data::Fer2013& d) {
  std::size_t n[3] = {0, 0, 0};
  for (auto u : d.usage) ++n[static_cast<int>(u)];
  return std::to_string(n[0]) + " Training, " + std::to_string(n[1]) + " PublicTest, " + std::to_string(n[2]) +
         " PrivateTest rows";
}

data::Split parse_split_or_throw(const std::string& name) {
  const auto s = data::parse_split(name);
  if (!s) throw UsageError("unknown split '" + name + "'; choose Training, PublicTest or PrivateTest");
  return *s;
}

Checkpoint load_checkpoint(const std::string& path) {
  std::error_code ec;
  if (fs::is_directory(path, ec))
    throw std::runtime_error("'" + path + "' is a directory; pass a checkpoint file, e.g. " +
                             (fs::path(path) / "model.fernet").string());
  return Checkpoint::load(path);
}

std::uint64_t fnv1a(const void* p, std::size_t n, std::uint64_t h = 0xcbf29ce484222325ull) {
  const auto* b = static_cast<const unsigned char*>(p);
  for (std::size_t i = 0; i < n; ++i) h = (h ^ b[i]) * 0x100000001b3ull;
  return h;
}

std::string weights_checksum(const Checkpoint& c) {
  std::uint64_t h = 0xcbf29ce484222325ull;
  for (const char* name : {"parameters", "buffers"}) {
    auto it = c.sections.find(name);
    if (it != c.sections.end()) h = fnv1a(it->second.data(), it->second.size() * sizeof(float), h);
  }
  char buf[24];
  std::snprintf(buf, sizeof buf, "%016llx", static_cast<unsigned long long>(h));
  return buf;
}

// ---- run settings <-> DIR/run.json ---------------------------------------------------------------
json settings_json(const RunSettings& s) {
  return {{"model", s.model},   {"epochs", s.epochs},         {"batch", s.batch},
          {"lr", s.lr},         {"seed", s.seed},             {"threads", s.threads},
          {"data", s.data.empty() ? json(nullptr) : json(s.data)}, {"eval_split", s.eval_split},
          {"init", s.init.empty() ? json(nullptr) : json(s.init)}, {"device", s.device}};
}

RunSettings settings_from_json(const json& j) {
  RunSettings s;
  s.model = j.at("model").get<std::string>();
  s.epochs = j.at("epochs").get<int>();
  s.batch = j.at("batch").get<int>();
  s.lr = j.at("lr").get<double>();
  s.seed = j.at("seed").get<std::uint64_t>();
  s.threads = j.value("threads", 0);
  s.data = j.at("data").is_null() ? std::string() : j.at("data").get<std::string>();
  s.eval_split = j.value("eval_split", std::string("PublicTest"));
  s.init = j.contains("init") && !j.at("init").is_null() ? j.at("init").get<std::string>() : std::string();
  s.device = j.value("device", std::string("cpu"));
  return s;
}

void validate(const RunSettings& s) {
  if (s.epochs < 1) throw UsageError("--epochs must be at least 1 (got " + std::to_string(s.epochs) + ")");
  if (s.batch < 1) throw UsageError("--batch must be at least 1 (got " + std::to_string(s.batch) + ")");
  if (!(s.lr > 0) || !std::isfinite(s.lr)) {
    std::ostringstream v;
    v << s.lr;
    throw UsageError("--lr must be a positive number (got " + v.str() + ")");
  }
  if (s.threads < 0) throw UsageError("--threads must be at least 1 (got " + std::to_string(s.threads) + ")");
  if (!find_model(s.model)) throw UsageError("unknown model '" + s.model + "'; choose one of: " + model_names());
}

// A backend by name (null for "cpu"); an unknown name is a usage error.
std::unique_ptr<device::Backend> open_backend(const std::string& name) {
  try {
    return device::make_backend(name);
  } catch (const std::invalid_argument& e) {
    throw UsageError(e.what());
  }
}

// ---- fernet train --------------------------------------------------------------------------------
struct TrainArgs {
  std::string model, data, out, resume, init, eval_split = "PublicTest", device = "cpu";
  int epochs = 0, batch = 0, threads = 0;
  double lr = 0;
  std::uint64_t seed = 0;
  bool synthetic = false, force = false;
  CLI::Option *o_model, *o_data, *o_out, *o_init, *o_split, *o_epochs, *o_batch, *o_threads, *o_lr, *o_seed,
      *o_synthetic, *o_force, *o_device;
};

int cmd_train(TrainArgs& a, const std::string& cmdline) {
  const auto wall0 = std::chrono::steady_clock::now();
  RunSettings s;
  std::string dir, original_cmdline = cmdline, started = iso_time_now();
  const bool resume = !a.resume.empty();
  int resumed_after = 0;
  // Opened as soon as the settings are known: an unusable device fails before any file is written.
  std::unique_ptr<device::Backend> backend;
  auto open_device = [&] { backend = open_backend(s.device); };
  if (resume) {
    for (CLI::Option* o : {a.o_model, a.o_data, a.o_out, a.o_init, a.o_split, a.o_batch, a.o_lr, a.o_seed,
                           a.o_synthetic, a.o_force})
      if (o->count())
        throw UsageError(o->get_name() + " cannot be given with --resume: the run's settings are in " +
                         (fs::path(a.resume) / "run.json").string() + " (only --epochs, --threads and --device may change)");
    dir = a.resume;
    const fs::path run_json = fs::path(dir) / "run.json";
    std::error_code ec;
    if (!fs::is_directory(dir, ec)) throw std::runtime_error("cannot resume: '" + dir + "' is not a directory");
    if (!fs::exists(run_json, ec))
      throw std::runtime_error("cannot resume: '" + dir + "' holds no run (no run.json); start one with fernet train --model NAME --out " + dir);
    std::ifstream in(run_json);
    json j;
    try {
      j = json::parse(in);
      s = settings_from_json(j.at("settings"));
      original_cmdline = j.value("command_line", cmdline);
      started = j.value("started", started);
    } catch (const json::exception& e) {
      throw std::runtime_error("cannot resume: " + run_json.string() + " is not a valid run file: " + e.what());
    }
    if (!fs::exists(fs::path(dir) / "last.fernet"))
      throw std::runtime_error("cannot resume: '" + dir + "' has no last.fernet, so no epoch finished; start the run again: " +
                               original_cmdline);
    if (a.o_epochs->count()) s.epochs = a.epochs;
    if (a.o_threads->count()) s.threads = a.threads;
    if (a.o_device->count()) s.device = a.device;
    validate(s);
    open_device();
    const int done = std::stoi(Checkpoint::load((fs::path(dir) / "last.fernet").string()).get("epoch", "0"));
    resumed_after = done;
    if (s.epochs < done)
      throw UsageError("--epochs " + std::to_string(s.epochs) + " is fewer than the " + std::to_string(done) +
                       " epochs this run has already done");
    if (a.o_epochs->count() || a.o_threads->count() || a.o_device->count()) {
      j["settings"] = settings_json(s);
      write_text_atomically(run_json.string(), j.dump(2) + "\n");
    }
  } else {
    if (!a.o_model->count()) throw UsageError("--model NAME is required (one of: " + model_names() + "), or --resume DIR");
    if (!a.o_out->count()) throw UsageError("--out DIR is required: the directory for the model, history, plots and report");
    const ModelInfo* m = find_model(a.model);
    if (!m) throw UsageError("unknown model '" + a.model + "'; choose one of: " + model_names());
    s.model = m->name;
    s.epochs = a.o_epochs->count() ? a.epochs : m->epochs;
    s.batch = a.o_batch->count() ? a.batch : m->batch;
    s.lr = a.o_lr->count() ? a.lr : m->lr;
    s.seed = a.o_seed->count() ? a.seed : m->seed;
    s.threads = a.threads;
    s.device = a.device;
    s.eval_split = a.eval_split;
    parse_split_or_throw(s.eval_split);
    if (s.eval_split == "Training") throw UsageError("--eval-split must be PublicTest or PrivateTest, not the training split");
    validate(s);
    open_device();
    if (a.synthetic && a.o_data->count()) throw UsageError("--synthetic and --data exclude each other");
    if (a.o_data->count()) {
      require_input_file(a.data, "data file");
      s.data = fs::absolute(a.data).lexically_normal().string();
    } else if (!a.synthetic) {
      s.data = default_data_path();
    }
    if (!a.init.empty()) {
      require_input_file(a.init, "checkpoint");
      s.init = fs::absolute(a.init).lexically_normal().string();
    }
    dir = a.out;
    std::error_code ec;
    fs::create_directories(dir, ec);
    if (ec || !fs::is_directory(dir))
      throw std::runtime_error("cannot create output directory '" + dir + "': " +
                               (ec ? ec.message() : std::string("a file of that name exists")));
    if (fs::exists(fs::path(dir) / "run.json") && !a.force)
      throw std::runtime_error("'" + dir + "' already holds a run; continue it with: fernet train --resume " + dir +
                               " (or pass --force to start over, or choose another --out)");
    for (const char* f : {"last.fernet", "model.fernet", "history.csv", "curves.png", "confusion.png", "report.json"})
      fs::remove(fs::path(dir) / f, ec);
    const json j = {{"fernet_version", version_string},
                    {"command_line", cmdline},
                    {"started", started},
                    {"settings", settings_json(s)}};
    try {
      write_text_atomically((fs::path(dir) / "run.json").string(), j.dump(2) + "\n");
    } catch (const IoError& e) {
      throw std::runtime_error("output directory '" + dir + "' is not writable: " + e.what());
    }
  }

  const ModelInfo& m = *find_model(s.model);
  if (s.threads > 0) set_threads(s.threads);

  std::string description;
  const data::Fer2013 all = load_data(s.data, description);
  const data::Fer2013 train = all.split(data::Split::Training);
  const data::Fer2013 eval = all.split(parse_split_or_throw(s.eval_split));
  if (train.size() == 0) throw std::runtime_error(description + ": no Training rows to train on (" + split_counts(all) + ")");
  if (eval.size() == 0)
    throw std::runtime_error(description + ": no " + s.eval_split + " rows to evaluate on (" + split_counts(all) +
                             "); choose another --eval-split");

  std::printf("fernet %s | %s | SIMD %s | %d threads | device %s\n", version_string, m.name.c_str(), simd_arch().c_str(),
              threads(), backend ? backend->name().c_str() : "cpu");
  if (s.data.empty() && !resume && !a.synthetic)
    std::printf("data: built-in synthetic faces (no --data given and no FER2013 file found at "
                "../shared/data/fer2013-dev.csv.gz; pass --data FILE for the real data)\n");
  std::printf("data: %s (%zu Training, %zu %s)\n", description.c_str(), train.size(), eval.size(), s.eval_split.c_str());
  std::printf("notebook: %s\n", m.notebook.c_str());
  std::printf("network: %s (%s), %zu parameters, %s, %s; epochs %d, batch %d, lr %g, seed %llu\n", m.name.c_str(),
              m.network.c_str(), m.parameters, m.loss.c_str(), m.optimizer.c_str(), s.epochs, s.batch, s.lr,
              static_cast<unsigned long long>(s.seed));
  std::printf("output: %s\n", dir.c_str());
  if (resume) std::printf("resuming after epoch %d of %d\n", resumed_after, s.epochs);
  std::fflush(stdout);

  TrainJob job;
  job.settings = s;
  job.train = &train;
  job.eval = &eval;
  job.out_dir = dir;
  job.resume = resume;
  job.stop = &g_stop;
  job.backend = backend.get();
  store_preprocess(job.extra_meta, m.preprocess);
  job.extra_meta["preprocess"] = m.preprocess_name;
  job.extra_meta["data"] = s.data.empty() ? "synthetic" : s.data;
  job.extra_meta["eval_split"] = s.eval_split;
  job.extra_meta["fernet_version"] = version_string;

  TrainResult r;
  {
    StopSignals signals;
    r = m.train(job);
  }
  if (!r.completed) {
    const int sig = g_signal.load();
    std::printf("Interrupted by %s. %s; continue with: fernet train --resume %s\n",
                sig == SIGTERM ? "SIGTERM" : "SIGINT",
                r.completed_epochs > 0 ? ("epoch " + std::to_string(r.completed_epochs) + " is saved in " +
                                          (fs::path(dir) / "last.fernet").string()).c_str()
                                       : "no epoch finished",
                shell_quote(dir).c_str());
    std::fflush(stdout);
    return 128 + (sig ? sig : SIGINT);
  }
  if (resume && r.resumed_from >= s.epochs)
    std::printf("The run had already finished its %d epochs; rewriting its plots and report.\n", s.epochs);

  // Plots and report, from the best checkpoint (model.fernet) evaluated on the evaluation split.
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  double train_seconds = 0, images = 0;
  int best_epoch = 0;
  double best_acc = -1;
  for (const auto& e : r.history) {
    train_seconds += e.seconds;
    images += e.images_per_second * e.seconds;
    if (e.test_accuracy > best_acc) best_acc = e.test_accuracy, best_epoch = e.epoch;
  }
  const std::string data_name = s.data.empty() ? "synthetic data" : fs::path(s.data).filename().string();
  plot_curves((fs::path(dir) / "curves.png").string(), r.history,
              m.name + " on " + data_name + ": loss and accuracy per epoch", s.eval_split);
  if (!r.best) throw std::runtime_error("no best checkpoint was written to " + dir + "/model.fernet");
  const ConfusionMatrix& cm = r.best->confusion;
  char title[256];
  std::snprintf(title, sizeof title, "%s (epoch %d) on %s: accuracy %.1f%% of %ld images", m.name.c_str(), best_epoch,
                s.eval_split.c_str(), 100 * cm.accuracy(), cm.total());
  plot_confusion((fs::path(dir) / "confusion.png").string(), cm, class_names(), title);

  json history = json::array();
  for (const auto& e : r.history) history.push_back(epoch_json(e));
  json report = {
      {"fernet_version", version_string},
      {"command_line", cmdline},
      {"original_command_line", original_cmdline},
      {"started", started},
      {"finished", iso_time_now()},
      {"model", m.name},
      {"network", m.network},
      {"parameters", m.parameters},
      {"loss", m.loss},
      {"optimizer", m.optimizer},
      {"preprocess", m.preprocess_name},
      {"settings", settings_json(s)},
      {"data", {{"source", s.data.empty() ? json("synthetic") : json(s.data)},
                {"training_images", train.size()},
                {"eval_split", s.eval_split},
                {"eval_images", eval.size()}}},
      {"epochs", r.completed_epochs},
      {"best_epoch", best_epoch},
      {"evaluation", metrics_json(cm)},
      {"accuracy", cm.accuracy()},
      {"eval_loss", number(r.best->loss)},
      {"last_epoch", r.history.empty() ? json(nullptr) : epoch_json(r.history.back())},
      {"history", history},
      {"wall_seconds", wall},
      {"train_seconds", train_seconds},
      {"images_per_second", train_seconds > 0 ? images / train_seconds : 0.0},
      {"threads", threads()},
      {"simd_arch", simd_arch()},
      {"device", backend ? backend->name() : std::string("cpu")},
      {"cuda", device::cuda_report()},
      {"machine", machine_json()},
      {"files", {{"best_checkpoint", "model.fernet"}, {"last_checkpoint", "last.fernet"}, {"history", "history.csv"},
                 {"curves", "curves.png"}, {"confusion", "confusion.png"}, {"settings", "run.json"}}}};
  report["evaluation"]["split"] = s.eval_split;
  report["evaluation"]["checkpoint"] = "model.fernet";
  report["evaluation"]["loss"] = number(r.best->loss);
  write_text_atomically((fs::path(dir) / "report.json").string(), report.dump(2) + "\n");

  std::printf("\nbest: epoch %d, %s accuracy %.4f (%ld of %ld)\n", best_epoch, s.eval_split.c_str(), cm.accuracy(),
              cm.correct(), cm.total());
  std::printf("%s", cm.report([](int c) { return data::emotion_name(c); }).c_str());
  std::printf("\nwrote %s: model.fernet (best), last.fernet, history.csv, curves.png, confusion.png, report.json\n",
              dir.c_str());
  return 0;
}

// ---- fernet eval -----------------------------------------------------------------------------------
struct EvalArgs {
  std::string load, data, split = "PublicTest", model, device = "cpu";
  int batch = 500, threads = 0;
  bool json_out = false;
};

// --data, else the data the checkpoint was trained on, else the default file, else synthetic.
std::string data_for(const std::string& given, const Checkpoint& c) {
  if (!given.empty()) return given;
  const std::string trained = c.get("data");
  if (trained == "synthetic") return {};
  if (!trained.empty() && fs::exists(trained)) return trained;
  return default_data_path();
}

int cmd_eval(const EvalArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  const auto backend = open_backend(a.device);
  if (a.batch < 1) throw UsageError("--batch must be at least 1 (got " + std::to_string(a.batch) + ")");
  const data::Split split = parse_split_or_throw(a.split);
  if (!a.data.empty()) require_input_file(a.data, "data file");
  const Checkpoint c = load_checkpoint(a.load);
  const ModelInfo& m = model_for_checkpoint(c, a.load, a.model);
  std::string description;
  const data::Fer2013 all = load_data(data_for(a.data, c), description);
  const data::Fer2013 subset = all.split(split);
  if (subset.size() == 0)
    throw std::runtime_error(description + " has no " + a.split + " rows (" + split_counts(all) + "); choose another --split");
  const Evaluation ev = m.evaluate(c, a.load, subset, a.batch, checkpoint_preprocess(c, m), backend.get());
  if (a.json_out) {
    json j = metrics_json(ev.confusion);
    j["model"] = m.name;
    j["checkpoint"] = a.load;
    j["epoch"] = std::stoi(c.get("epoch", "0"));
    j["data"] = description;
    j["split"] = a.split;
    j["loss"] = number(ev.loss);
    j["weights_checksum"] = weights_checksum(c);
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s (%s, epoch %s) on %s, %s: %zu images\n", a.load.c_str(), m.name.c_str(), c.get("epoch", "?").c_str(),
                description.c_str(), a.split.c_str(), subset.size());
    std::printf("%s accuracy: %.4f (%ld of %ld), loss %.4f\n\n", a.split.c_str(), ev.accuracy(), ev.confusion.correct(),
                ev.confusion.total(), ev.loss);
    std::printf("%s", ev.confusion.report([](int k) { return data::emotion_name(k); }).c_str());
  }
  return 0;
}

// ---- fernet predict ----------------------------------------------------------------------------------
struct PredictArgs {
  std::string load, csv, out, model;
  std::vector<std::string> images;
  int threads = 0;
};

std::vector<float> preprocess_images(const std::vector<const std::uint8_t*>& grey, const data::Preprocess& p) {
  const std::size_t per = static_cast<std::size_t>(p.channels) * data::image_pixels;
  std::vector<float> x(grey.size() * per);
  for (std::size_t i = 0; i < grey.size(); ++i)
    for (int c = 0; c < p.channels; ++c)
      for (int k = 0; k < data::image_pixels; ++k)
        x[i * per + static_cast<std::size_t>(c) * data::image_pixels + k] = grey[i][k] * p.scale + p.offset;
  return x;
}

int argmax7(const std::array<float, 7>& p) { return static_cast<int>(std::max_element(p.begin(), p.end()) - p.begin()); }

int cmd_predict(const PredictArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  if (a.images.empty() && a.csv.empty()) throw UsageError("give IMAGE files to classify, or --csv FILE");
  if (!a.out.empty() && a.csv.empty()) throw UsageError("--out is for --csv predictions; images are printed");
  const Checkpoint c = load_checkpoint(a.load);
  const ModelInfo& m = model_for_checkpoint(c, a.load, a.model);
  const data::Preprocess pre = checkpoint_preprocess(c, m);

  if (!a.images.empty()) {
    std::vector<std::array<std::uint8_t, 48 * 48>> faces;
    for (const auto& path : a.images) faces.push_back(to_fer2013(load_grey(path)));  // all checked before any work
    std::vector<const std::uint8_t*> ptrs;
    for (const auto& f : faces) ptrs.push_back(f.data());
    const auto probs = m.predict(c, a.load, preprocess_images(ptrs, pre), static_cast<int>(faces.size()));
    std::size_t width = 0;
    for (const auto& p : a.images) width = std::max(width, p.size());
    for (std::size_t i = 0; i < probs.size(); ++i) {
      const int best = argmax7(probs[i]);
      std::printf("%-*s  %-8s", static_cast<int>(width), a.images[i].c_str(), std::string(data::emotion_name(best)).c_str());
      for (int k = 0; k < 7; ++k) std::printf("  %s %.3f", std::string(data::emotion_name(k)).c_str(), probs[i][k]);
      std::printf("\n");
    }
  }
  if (!a.csv.empty()) {
    require_input_file(a.csv, "data file");
    const data::Fer2013 d = data::load_fer2013(a.csv);
    std::vector<const std::uint8_t*> ptrs;
    for (std::size_t i = 0; i < d.size(); ++i) ptrs.push_back(d.image(i));
    const auto probs = m.predict(c, a.load, preprocess_images(ptrs, pre), static_cast<int>(d.size()));
    std::string text = "row,usage,emotion,predicted,predicted_name";
    for (int k = 0; k < 7; ++k) text += ",p_" + std::string(data::emotion_name(k));
    text += "\n";
    long correct = 0;
    char buf[64];
    for (std::size_t i = 0; i < probs.size(); ++i) {
      const int best = argmax7(probs[i]);
      correct += best == d.labels[i];
      text += std::to_string(i + 1) + "," + std::string(data::split_name(d.usage[i])) + "," + std::to_string(d.labels[i]) +
              "," + std::to_string(best) + "," + std::string(data::emotion_name(best));
      for (int k = 0; k < 7; ++k) {
        std::snprintf(buf, sizeof buf, ",%.5f", probs[i][k]);
        text += buf;
      }
      text += "\n";
    }
    if (a.out.empty() || a.out == "-") {
      std::fwrite(text.data(), 1, text.size(), stdout);
    } else {
      write_text_atomically(a.out, text);
      std::printf("wrote %zu predictions to %s; %ld agree with the file's labels (%.4f)\n", d.size(), a.out.c_str(),
                  correct, d.size() ? double(correct) / d.size() : 0.0);
    }
  }
  return 0;
}

// ---- fernet synth --------------------------------------------------------------------------------
struct SynthArgs {
  long rows = 8400;
  std::uint64_t seed = 2013;
  std::string out, images;
};

int cmd_synth(const SynthArgs& a) {
  if (a.rows < 1) throw UsageError("--rows must be at least 1 (got " + std::to_string(a.rows) + ")");
  if (a.out.empty() && a.images.empty()) throw UsageError("--out FILE.csv is required");
  data::SyntheticOptions o;
  o.seed = a.seed;
  o.training = static_cast<std::size_t>(a.rows) * 8 / 10;
  o.public_test = static_cast<std::size_t>(a.rows) / 10;
  o.private_test = static_cast<std::size_t>(a.rows) - o.training - o.public_test;
  const data::Fer2013 d = data::make_synthetic(o);
  if (!a.out.empty()) {
    data::write_fer2013_csv(d, a.out);
    std::printf("wrote %zu synthetic images (%zu Training, %zu PublicTest, %zu PrivateTest) to %s\n", d.size(),
                o.training, o.public_test, o.private_test, a.out.c_str());
  }
  if (!a.images.empty()) {  // test helper: each image as a colour PNG (96x96) and JPEG (120x100)
    std::error_code ec;
    fs::create_directories(a.images, ec);
    if (ec) throw std::runtime_error("cannot create '" + a.images + "': " + ec.message());
    for (std::size_t i = 0; i < d.size(); ++i) {
      const std::string stem = (fs::path(a.images) / ("face" + std::to_string(i) + "_" +
                                                      std::string(data::emotion_name(d.labels[i])))).string();
      const auto png = tinted_rgb(d.image(i), 96, 96);
      write_png(stem + ".png", 96, 96, 3, png.data());
      const auto jpg = tinted_rgb(d.image(i), 120, 100);
      write_jpeg(stem + ".jpg", 120, 100, 3, jpg.data());
    }
    std::printf("wrote %zu PNG and %zu JPEG images to %s\n", d.size(), d.size(), a.images.c_str());
  }
  return 0;
}

// ---- fernet info ------------------------------------------------------------------------------------
int cmd_info(const std::string& checkpoint, int threads_flag) {
  if (threads_flag > 0) set_threads(threads_flag);
  if (!checkpoint.empty()) {
    const Checkpoint c = load_checkpoint(checkpoint);
    std::printf("checkpoint: %s\n", checkpoint.c_str());
    for (const char* key : {"model", "parameter_count", "epoch", "best_accuracy", "optimizer", "optimizer_steps", "seed",
                            "preprocess", "data", "eval_split", "fernet_version", "shapes"})
      if (!c.get(key).empty()) std::printf("%s: %s\n", key, c.get(key).c_str());
    std::printf("weights checksum: %s\n", weights_checksum(c).c_str());
    return 0;
  }
  std::printf("fernet %s\n", version_string);
  std::printf("SIMD: %s (xsimd%s)\n", simd_arch().c_str(), simd_enabled() ? "" : ", disabled");
  std::printf("threads: %d (OpenMP; %u hardware threads; set with --threads or OMP_NUM_THREADS)\n", threads(),
              std::thread::hardware_concurrency());
  std::printf("CUDA: %s\n", device::cuda_report().c_str());
  std::printf("machine: %s, %s\n", os_description().c_str(), cpu_model().c_str());
  const std::string data = default_data_path();
  std::printf("default data: %s\n", data.empty() ? "none found, training uses the built-in synthetic faces" : data.c_str());
  std::printf("\nmodels (notebook defaults):\n");
  std::printf("  %-11s %-10s %11s  %-16s %-5s %8s %6s %6s %5s  %s\n", "name", "network", "parameters", "loss", "optim",
              "lr", "epochs", "batch", "seed", "input");
  for (const auto& m : models())
    std::printf("  %-11s %-10s %11zu  %-16s %-5s %8g %6d %6d %5llu  %s\n", m.name.c_str(), m.network.c_str(),
                m.parameters, m.loss.c_str(), m.optimizer.c_str(), m.lr, m.epochs, m.batch,
                static_cast<unsigned long long>(m.seed), m.preprocess_name.c_str());
  return 0;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{"fernet: train, evaluate and use the FER2013 notebook's networks (fernet " +
                   std::string(version_string) + ")",
               "fernet"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_string);
  app.footer("Models: " + model_names() + "\nExit codes: 0 success, 1 error, 2 usage error, 130/143 training interrupted (resumable).");

  TrainArgs ta;
  auto* train = app.add_subcommand("train", "Train a notebook network; writes the model, history, plots and report to --out DIR");
  ta.o_model = train->add_option("--model", ta.model, "network: " + model_names());
  ta.o_data = train->add_option("--data", ta.data, "FER2013 CSV (plain or .gz); default ../shared/data/fer2013-dev.csv.gz when present, else the built-in synthetic set");
  ta.o_synthetic = train->add_flag("--synthetic", ta.synthetic, "train on the built-in synthetic faces even when real data is present");
  ta.o_epochs = train->add_option("--epochs", ta.epochs, "epochs (default: the notebook's for the model)");
  ta.o_batch = train->add_option("--batch", ta.batch, "batch size (default: the notebook's)");
  ta.o_lr = train->add_option("--lr", ta.lr, "learning rate (default: the notebook's)");
  ta.o_seed = train->add_option("--seed", ta.seed, "seed for initialisation, shuffling and dropout (default: the notebook's)");
  ta.o_threads = train->add_option("--threads", ta.threads, "CPU threads (default: all cores)");
  ta.o_device = train->add_option("--device", ta.device,
                                  "where to train: cpu, cuda, cuda:N, or emulated (the GPU code path on the CPU, for testing)")
                    ->capture_default_str();
  ta.o_split = train->add_option("--eval-split", ta.eval_split, "split evaluated after every epoch")->capture_default_str();
  ta.o_init = train->add_option("--init", ta.init, "start from this checkpoint's weights (same network)");
  ta.o_out = train->add_option("--out", ta.out, "output directory");
  ta.o_force = train->add_flag("--force", ta.force, "start over in an --out directory that already holds a run");
  train->add_option("--resume", ta.resume, "continue the interrupted run in this directory (no other flags needed)");

  EvalArgs ea;
  auto* eval = app.add_subcommand("eval", "Evaluate a checkpoint: accuracy, per-class precision/recall/F1, confusion matrix");
  eval->add_option("--load", ea.load, "checkpoint, e.g. DIR/model.fernet")->required();
  eval->add_option("--data", ea.data, "FER2013 CSV (plain or .gz); default: the data the model was trained on");
  eval->add_option("--split", ea.split, "Training, PublicTest or PrivateTest")->capture_default_str();
  eval->add_option("--model", ea.model, "expect this network (refuses a checkpoint of another)");
  eval->add_option("--batch", ea.batch, "images per forward pass")->capture_default_str();
  eval->add_option("--threads", ea.threads, "CPU threads (default: all cores)");
  eval->add_option("--device", ea.device, "where to evaluate: cpu, cuda, cuda:N, or emulated")->capture_default_str();
  eval->add_flag("--json", ea.json_out, "print the results as JSON");

  PredictArgs pa;
  auto* predict = app.add_subcommand("predict", "Classify face images (PNG, JPEG, ... any size and colour) or the rows of a FER2013 CSV");
  predict->add_option("--load", pa.load, "checkpoint, e.g. DIR/model.fernet")->required();
  predict->add_option("images", pa.images, "image files (converted to grey, centre-cropped to a square, resized to 48x48)");
  predict->add_option("--csv", pa.csv, "predict every row of this FER2013-format file");
  predict->add_option("--out", pa.out, "write the --csv predictions to this CSV file (default: standard output)");
  predict->add_option("--model", pa.model, "expect this network (refuses a checkpoint of another)");
  predict->add_option("--threads", pa.threads, "CPU threads (default: all cores)");

  SynthArgs sa;
  auto* synth = app.add_subcommand("synth", "Write the synthetic FER2013 look-alike data set as a CSV (80% Training, 10% PublicTest, 10% PrivateTest)");
  synth->add_option("--rows", sa.rows, "images")->capture_default_str();
  synth->add_option("--out", sa.out, "output FER2013 CSV; gzip-compressed when it ends in .gz");
  synth->add_option("--seed", sa.seed, "seed; the same seed gives the same bytes")->capture_default_str();
  synth->add_option("--images", sa.images, "also write each image as PNG and JPEG into this directory")->group("");

  std::string info_checkpoint;
  int info_threads = 0;
  auto* info = app.add_subcommand("info", "Version, SIMD architecture, threads, CUDA, models; or a checkpoint's metadata");
  info->add_option("--checkpoint", info_checkpoint, "describe this checkpoint (model, epoch, weights checksum)");
  info->add_option("--threads", info_threads, "CPU threads");

  if (argc > 1 && argv[1][0] != '-' && [&] {
        for (const CLI::App* sub : app.get_subcommands({})) if (sub->get_name() == argv[1]) return false;
        return true;
      }()) {
    std::fprintf(stderr, "fernet: error: unknown command '%s'; the commands are train, eval, predict, synth and info\n"
                         "Run 'fernet --help' for more.\n", argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    // Name the subcommand whose flags were wrong, and list unknown flags plainly.
    std::string sub;
    for (const CLI::App* s : app.get_subcommands()) sub = s->get_name();
    std::string message = e.what();
    if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
      std::vector<std::string> extras = sub.empty() ? app.remaining() : app.get_subcommand(sub)->remaining();
      std::string flags, args;
      for (const auto& x : extras) (x.rfind("-", 0) == 0 && x.size() > 1 ? flags : args) += " " + x;
      message = !flags.empty() ? "unknown flag" + std::string(flags.find(' ', 1) != std::string::npos ? "s" : "") + ":" + flags
                               : "unexpected argument" + std::string(args.find(' ', 1) != std::string::npos ? "s" : "") + ":" + args;
    }
    std::fprintf(stderr, "fernet: error: %s\nRun 'fernet%s --help' for the flags.\n", message.c_str(),
                 sub.empty() ? "" : (" " + sub).c_str());
    return 2;
  }
  try {
    if (*train) {
      if (ta.o_threads->count() && ta.threads < 1)
        throw UsageError("--threads must be at least 1 (got " + std::to_string(ta.threads) + ")");
      return cmd_train(ta, command_line(argc, argv));
    }
    if (*eval) return cmd_eval(ea);
    if (*predict) return cmd_predict(pa);
    if (*synth) return cmd_synth(sa);
    if (*info) return cmd_info(info_checkpoint, info_threads);
  } catch (const UsageError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "fernet: error: %s\nRun 'fernet %s --help' for the flags.\n", e.what(),
                 app.get_subcommands().empty() ? "" : app.get_subcommands().front()->get_name().c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::string message = e.what();
    if (message.rfind("fernet: ", 0) == 0) message.erase(0, 8);  // library messages carry the prefix too
    std::fprintf(stderr, "fernet: error: %s\n", message.c_str());
    return 1;
  }
  return 0;
}
