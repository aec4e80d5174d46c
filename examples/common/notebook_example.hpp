#pragma once
// What every notebook example shares: its command-line flags, finding the data (the real
// FER2013 file when present, otherwise the built-in synthetic set), the training loop and the
// final report. Each example only states its network type, loss, optimiser and the notebook's
// hyperparameters.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <fernet/fernet.hpp>
#include <fernet/data/batches.hpp>
#include <fernet/data/fer2013.hpp>
#include <fernet/data/synthetic.hpp>
#include <fernet/device/select.hpp>
#include <fernet/train/recipes.hpp>
#include <fernet/train/trainer.hpp>

namespace fernet::examples {

struct Options {
  std::string data_path;
  int epochs = 0, batch = 0, threads = 0;
  double lr = 0;
  std::uint64_t seed = 0;
  std::string save, load, history, eval_split = "PublicTest", device = "cpu";
  bool synthetic = false, normalize = false;
};

inline std::string default_data_path() {
  for (const char* p : {"../shared/data/fer2013-dev.csv.gz", FERNET_SOURCE_DIR "/../shared/data/fer2013-dev.csv.gz"})
    if (std::filesystem::exists(p)) return p;
  return {};
}

// Adds the common flags; the caller may add its own before calling parse.
inline void add_common_flags(CLI::App& app, Options& o, const Recipe& d) {
  o.epochs = d.epochs;
  o.batch = d.batch;
  o.lr = d.lr;
  o.seed = d.seed;
  app.add_option("--data", o.data_path, "FER2013 CSV (plain or .gz); default ../shared/data/fer2013-dev.csv.gz when present, else the built-in synthetic set");
  app.add_option("--epochs", o.epochs, "epochs to train")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--batch", o.batch, "batch size")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "seed for initialisation, shuffling and dropout")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--device", o.device, "where to train: cpu, cuda, cuda:N, or emulated (the GPU code path run on the CPU, for testing)")
      ->capture_default_str();
  app.add_option("--save", o.save, "write the model checkpoint here after every epoch");
  app.add_option("--load", o.load, "start from this checkpoint's weights")->check(CLI::ExistingFile);
  app.add_option("--history", o.history, "write per-epoch history to this CSV file");
  app.add_option("--eval-split", o.eval_split, "split to evaluate on")->capture_default_str()
      ->check(CLI::IsMember({"PublicTest", "PrivateTest", "Training"}));
  app.add_flag("--synthetic", o.synthetic, "use the built-in synthetic data set even if real data is present");
  if (d.preprocess.scale == 1.f)
    app.add_flag("--normalize", o.normalize, "centre and scale pixels to -2..2 (the notebook fed raw 0..255 values)");
}

struct Datasets {
  data::Fer2013 train, eval;
  std::string description;
};

inline Datasets load_datasets(const Options& o) {
  Datasets d;
  std::string path = o.synthetic ? std::string() : (o.data_path.empty() ? default_data_path() : o.data_path);
  data::Fer2013 all;
  if (path.empty()) {
    all = data::make_synthetic();
    d.description = "built-in synthetic faces (no FER2013 file given or found; pass --data FILE for the real data)";
  } else {
    all = data::load_fer2013(path);
    d.description = path;
  }
  d.train = all.split(data::Split::Training);
  d.eval = all.split(*data::parse_split(o.eval_split));
  if (d.train.size() == 0) throw data::DataError(d.description + ": no Training rows to train on");
  if (d.eval.size() == 0)
    throw data::DataError(d.description + ": no " + o.eval_split + " rows to evaluate on (use --eval-split)");
  return d;
}

// Trains Net with Loss and the optimiser make_optimizer(net, lr) builds; prints the notebook's
// epoch lines and a final per-class report. Returns the process exit code.
template <class Net, class Loss, class MakeOptimizer>
int train_notebook_network(const Options& o, const Recipe& d, MakeOptimizer&& make_optimizer) {
  data::Preprocess pre = d.preprocess;
  if (o.normalize) pre = {data::preprocess::centered.scale, data::preprocess::centered.offset, pre.channels};
  if (o.threads > 0) set_threads(o.threads);
  const auto backend = device::make_backend(o.device);  // before the data: a bad --device fails fast
  const Datasets ds = load_datasets(o);
  std::printf("fernet %s | %s | SIMD %s | %d threads | device %s\n", version_string, d.name, simd_arch().c_str(),
              threads(), backend ? backend->name().c_str() : "cpu");
  std::printf("data: %s (%zu training, %zu %s)\n", ds.description.c_str(), ds.train.size(), ds.eval.size(),
              o.eval_split.c_str());
  std::printf("notebook: %s\n", d.notebook);
  std::printf("network: %s, %zu parameters; epochs %d, batch %d, lr %g, seed %llu\n", Net::shape_string().c_str(),
              Net::parameter_count, o.epochs, o.batch, o.lr, static_cast<unsigned long long>(o.seed));
  std::fflush(stdout);

  auto net = std::make_unique<Net>(o.seed);
  if (!o.load.empty()) restore_checkpoint(*net, Checkpoint::load(o.load), o.load, d.name);
  auto opt = make_optimizer(*net, static_cast<float>(o.lr));
  data::BatchLoader train(ds.train, o.batch, pre, true, o.seed);
  data::BatchLoader eval(ds.eval, std::max(o.batch, 500), pre, false, o.seed);
  TrainConfig cfg;
  cfg.model_name = d.name;
  cfg.epochs = o.epochs;
  cfg.seed = o.seed;
  cfg.history_csv = o.history;
  cfg.last_checkpoint = o.save;
  cfg.backend = backend.get();
  Trainer<Loss, Net, decltype(opt)> trainer(*net, opt, cfg);
  trainer.fit(train, &eval);
  const auto& ev = *trainer.last_evaluation();
  std::printf("\n%s accuracy: %.4f (%ld of %ld)\n", o.eval_split.c_str(), ev.accuracy(), ev.confusion.correct(),
              ev.confusion.total());
  std::printf("%s", ev.confusion.report([](int c) { return data::emotion_name(c); }).c_str());
  return 0;
}

// main() body: parse, run, and turn every error into a message and exit code 1.
template <class Run>
int run_main(CLI::App& app, int argc, char** argv, Run&& run) {
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    return app.exit(e);
  }
  try {
    return run();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what());
    return 1;
  }
}

}  // namespace fernet::examples
