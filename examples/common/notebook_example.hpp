#pragma once
// What every notebook example shares: its command-line flags, finding the data (the real
// FER2013 file when present, otherwise the built-in synthetic set) and the final report. The
// training itself is the library's fernet::train_from_recipe (train/run.hpp). Each example only
// states its network type, loss, optimiser and the notebook's hyperparameters.
#include <CLI/CLI.hpp>

#include <cstdio>
#include <filesystem>
#include <optional>
#include <string>

#include <fernet/data/fer2013.hpp>
#include <fernet/data/fer2013_source.hpp>
#include <fernet/device/select.hpp>
#include <fernet/fernet.hpp>
#include <fernet/train/recipes.hpp>
#include <fernet/train/run.hpp>

namespace fernet::examples {

struct Options {
  std::string data_path;
  int epochs = 0, batch = 0, threads = 0;
  double lr = 0, time_budget = 0;
  CLI::Option *o_epochs = nullptr, *o_time_budget = nullptr;  // given or not: see run_length
  std::uint64_t seed = 0;
  std::string save, load, history, eval_split = "PublicTest", device = "cpu";
  bool synthetic = false, normalize = false;
};

// Adds the common flags; the caller may add its own before calling parse.
inline void add_common_flags(CLI::App& app, Options& o, const Recipe& d) {
  o.epochs = d.epochs;
  o.batch = d.batch;
  o.lr = d.lr;
  o.seed = d.seed;
  app.add_option("--data", o.data_path,
                 "FER2013 CSV (plain or .gz); default ../shared/data/fer2013-dev.csv.gz when present, else the "
                 "built-in synthetic set");
  o.o_epochs = app.add_option("--epochs", o.epochs, "epochs to train (the recipe's when no time budget; with one, the most it may fit: 300 unless given)")
                   ->capture_default_str()
                   ->check(CLI::Range(1, 100000));
  o.time_budget = d.time_budget_minutes;
  o.o_time_budget = app.add_option("--time-budget", o.time_budget,
                                   "minutes: train as many epochs as fit at the first epoch's pace; 0: none "
                                   "(default: the recipe's, unless --epochs is given)")
                        ->capture_default_str()
                        ->check(CLI::Range(0.0, 1e6));
  app.add_option("--batch", o.batch, "batch size")->capture_default_str()->check(CLI::Range(1, 100000));
  app.add_option("--lr", o.lr, "learning rate")->capture_default_str()->check(CLI::PositiveNumber);
  app.add_option("--seed", o.seed, "seed for initialisation, shuffling and dropout")->capture_default_str();
  app.add_option("--threads", o.threads, "CPU threads (default: all cores)")->check(CLI::Range(1, 1024));
  app.add_option("--device", o.device,
                 "where to train: cpu, cuda, cuda:N, or emulated (the GPU code path run on the CPU, for testing)")
      ->capture_default_str();
  app.add_option("--save", o.save, "write the model checkpoint here after every epoch");
  app.add_option("--load", o.load, "start from this checkpoint's weights")->check(CLI::ExistingFile);
  app.add_option("--history", o.history, "write per-epoch history to this CSV file");
  app.add_option("--eval-split", o.eval_split, "split to evaluate on")
      ->capture_default_str()
      ->check(CLI::IsMember({"PublicTest", "PrivateTest", "Training"}));
  app.add_flag("--synthetic", o.synthetic, "use the built-in synthetic data set even if real data is present");
  if (d.preprocess.scale == 1.f)
    app.add_flag("--normalize", o.normalize, "centre and scale pixels to -2..2 (the notebook fed raw 0..255 values)");
}

// The --data file, else the default file, else (or with --synthetic) the synthetic faces.
inline data::TrainingSplits load_datasets(const Options& o, std::string& description) {
  const std::string path =
      o.synthetic ? std::string() : (o.data_path.empty() ? data::default_data_path() : o.data_path);
  const data::Fer2013 all = data::load_fer2013_or_synthetic(path, description);
  if (path.empty()) description += " (no FER2013 file given or found; pass --data FILE for the real data)";
  return data::training_splits(all, *data::parse_split(o.eval_split), description);
}

// Trains Net with Loss and Optimizer (its other settings in `options`) on the recipe's numbers as
// the flags override them; prints the notebook's epoch lines and a final per-class report.
// Returns the process exit code.
template <class Net, class Loss, class Optimizer>
int train_notebook_network(const Options& o, const Recipe& d, typename Optimizer::Options options = {}) {
  if (o.threads > 0) set_threads(o.threads);
  const auto backend = device::make_backend(o.device);  // before the data: a bad --device fails fast
  std::string description;
  const data::TrainingSplits ds = load_datasets(o, description);

  TrainingRun<Optimizer> run = run_from_recipe<Optimizer>(d, options);
  const RunLength length =
      run_length(d, o.o_epochs && o.o_epochs->count() ? std::optional<int>(o.epochs) : std::nullopt,
                 o.o_time_budget && o.o_time_budget->count() ? std::optional<double>(o.time_budget) : std::nullopt);
  run.config.epochs = length.epochs;
  run.config.time_budget_seconds = length.time_budget_minutes * 60;
  run.config.seed = o.seed;
  run.config.history_csv = o.history;
  run.config.last_checkpoint = o.save;
  run.config.backend = backend.get();
  run.batch = o.batch;
  run.optimizer.lr = static_cast<float>(o.lr);
  run.init = o.load;
  if (o.normalize)
    run.preprocess = {data::preprocess::centered.scale, data::preprocess::centered.offset, d.preprocess.channels};
  const RunResult r = train_from_recipe<Net, Loss>(run, {ds.train, ds.eval, description, o.eval_split});

  const auto& ev = *r.last;
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
  } catch (const CLI::ParseError& e) { return app.exit(e); }
  try {
    return run();
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "%s: error: %s\n", app.get_name().c_str(), e.what());
    return 1;
  }
}

}  // namespace fernet::examples
