// fernet train --model NAME [--data FILE] [--epochs N --batch N --lr X --seed N --threads N] --out DIR
// fernet train --resume DIR
// mpirun -np N fernet train ...   (data-parallel over N processes, when built with FERNET_MPI)
// Trains through the library's train_from_recipe (models.hpp), then writes the plots and
// report.json from the best checkpoint. Under mpirun, rank 0 alone writes files and prints.
#include <unistd.h>

#include <algorithm>
#include <chrono>
#include <csignal>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <functional>
#include <memory>
#include <optional>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <fernet/atomic_file.hpp>
#include <fernet/data/fer2013.hpp>
#include <fernet/data/fer2013_source.hpp>
#include <fernet/device/select.hpp>
#include <fernet/dist/launch.hpp>
#include <fernet/kernels/kernel_set.hpp>
#ifdef FERNET_HAVE_MPI
#include <fernet/dist/mpi.hpp>
#endif
#include <fernet/parallel.hpp>
#include <fernet/simd.hpp>
#include <fernet/version.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "models.hpp"
#include "plots.hpp"
#include "report.hpp"
#include "run_settings.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace fernet::app {

namespace {

struct TrainArgs {
  std::string model, data, out, resume, init, eval_split = "PublicTest", device = "cpu";
  std::string augment, schedule, tta;
  int epochs = 0, batch = 0, threads = 0;
  double lr = 0, label_smoothing = 0, clip_grad_norm = 0, mixup = 0, ema = 0, time_budget = 0;
  std::uint64_t seed = 0;
  bool synthetic = false, force = false, normalize = false, equalize = false;
  CLI::Option *o_model, *o_data, *o_out, *o_init, *o_split, *o_epochs, *o_batch, *o_threads, *o_lr, *o_seed,
      *o_synthetic, *o_force, *o_device, *o_augment, *o_schedule, *o_tta, *o_smoothing, *o_clip, *o_normalize,
      *o_equalize, *o_mixup, *o_ema, *o_time_budget;
};

// What a run is: its settings, its directory and where it stands.
struct RunStart {
  RunSettings settings;
  std::string dir, original_cmdline, started;
  bool resume = false;
  std::unique_ptr<device::Backend> backend;  // opened before any file is written: a bad device fails first
  json run_json;                             // a new run's run.json, written by start_fresh after the data loads
};

// The files a run writes in its directory (besides run.json); a new run replaces them.
constexpr const char* run_output_files[] = {"last.fernet", "model.fernet", "history.csv",
                                            "curves.png",  "confusion.png", "report.json"};

// --resume DIR: the settings from DIR/run.json; only --epochs, --threads and --device may change.
RunStart resume_run(const TrainArgs& a, const std::string& cmdline, bool writer = true) {
  RunStart r;
  r.resume = true;
  r.original_cmdline = cmdline;
  r.started = iso_time_now();
  for (CLI::Option* o : {a.o_model, a.o_data, a.o_out, a.o_init, a.o_split, a.o_batch, a.o_lr, a.o_seed, a.o_synthetic,
                         a.o_force, a.o_augment, a.o_schedule, a.o_tta, a.o_smoothing, a.o_clip, a.o_normalize, a.o_equalize, a.o_mixup, a.o_ema,
                         a.o_time_budget})
    if (o->count())
      throw UsageError(o->get_name() + " cannot be given with --resume: the run's settings are in " +
                       (fs::path(a.resume) / "run.json").string() +
                       " (only --epochs, --threads and --device may change)");
  r.dir = a.resume;
  const fs::path run_json = fs::path(r.dir) / "run.json";
  std::error_code ec;
  if (!fs::is_directory(r.dir, ec)) throw std::runtime_error("cannot resume: '" + r.dir + "' is not a directory");
  if (!fs::exists(run_json, ec))
    throw std::runtime_error("cannot resume: '" + r.dir +
                             "' holds no run (no run.json); start one with fernet train --model NAME --out " + r.dir);
  RunFile file = read_run_file(run_json.string());  // size-capped, every field checked
  json& j = file.document;
  r.settings = file.settings;
  if (!file.command_line.empty()) r.original_cmdline = file.command_line;
  if (!file.started.empty()) r.started = file.started;
  if (!fs::exists(fs::path(r.dir) / "last.fernet"))
    throw std::runtime_error("cannot resume: '" + r.dir +
                             "' has no last.fernet, so no epoch finished; start the run again: " + r.original_cmdline);
  RunSettings& s = r.settings;
  // --epochs now is the run's count: a time budget's fitted count gives way to it.
  if (a.o_epochs->count()) s.epochs = a.epochs, s.time_budget_minutes = 0;
  if (a.o_threads->count()) s.threads = a.threads;
  if (a.o_device->count()) s.device = a.device;
  validate(s);
  r.backend = open_backend(s.device);
  const std::string last = (fs::path(r.dir) / "last.fernet").string();
  const int done = static_cast<int>(fernet::detail::checkpoint_integer(Checkpoint::load(last), "epoch", 0, 0, 1000000, last));
  if (s.epochs < done)
    throw UsageError("--epochs " + std::to_string(s.epochs) + " is fewer than the " + std::to_string(done) +
                     " epochs this run has already done");
  if (writer && (a.o_epochs->count() || a.o_threads->count() || a.o_device->count())) {
    j["settings"] = settings_json(s);
    write_text_atomically(run_json.string(), j.dump(2) + "\n");
  }
  return r;
}

std::string host_name() {
  char name[256] = {};
  return ::gethostname(name, sizeof name - 1) == 0 ? name : "unknown";
}

// The processes of a data-parallel run (mpirun), for the banner and report.json; one when alone.
struct Processes {
  Distributed* distributed = nullptr;
  std::vector<std::string> hosts;
  std::vector<int> threads;
  // The gradient all-reduce so far, this session: seconds (waiting for slower processes
  // included), calls and bytes per call.
  std::function<double()> reduce_seconds = [] { return 0.0; };
  std::function<long()> reductions = [] { return 0L; };
  std::function<std::size_t()> reduced_bytes = [] { return std::size_t{0}; };
  bool writer() const { return !distributed || distributed->writer(); }
  int count() const { return distributed ? distributed->ranks() : 1; }
};

// --model NAME --out DIR: the notebook's settings with the flags' overrides, written to DIR/run.json.
// Only the writer (rank 0 of a data-parallel run) looks at and prepares the directory.
RunStart new_run(const TrainArgs& a, const std::string& cmdline, bool writer = true) {
  RunStart r;
  r.original_cmdline = cmdline;
  r.started = iso_time_now();
  if (!a.o_model->count())
    throw UsageError("--model NAME is required (one of: " + model_names() + "), or --resume DIR");
  if (!a.o_out->count())
    throw UsageError("--out DIR is required: the directory for the model, history, plots and report");
  const ModelInfo* m = find_model(a.model);
  if (!m) throw UsageError("unknown model '" + a.model + "'; choose one of: " + model_names());
  RunSettings& s = r.settings;
  s.model = m->name;
  RunLength length;
  try {
    length = run_length(*m->recipe, a.o_epochs->count() ? std::optional<int>(a.epochs) : std::nullopt,
                 a.o_time_budget->count() ? std::optional<double>(a.time_budget) : std::nullopt);
  } catch (const std::invalid_argument& e) { throw UsageError(e.what()); }
  s.epochs = length.epochs;
  s.time_budget_minutes = length.time_budget_minutes;
  s.batch = a.o_batch->count() ? a.batch : m->batch;
  s.lr = a.o_lr->count() ? a.lr : m->lr;
  s.seed = a.o_seed->count() ? a.seed : m->seed;
  s.threads = a.threads;
  s.device = a.device;
  s.eval_split = a.eval_split;
  s.normalize = a.normalize;
  s.augment = a.o_augment->count() ? a.augment : m->augment;
  s.schedule = a.o_schedule->count() ? a.schedule : m->schedule;
  s.tta = a.o_tta->count() ? a.tta : m->tta;
  s.label_smoothing = a.o_smoothing->count() ? a.label_smoothing : m->label_smoothing;
  s.clip_grad_norm = a.clip_grad_norm;
  s.equalize = a.equalize;
  s.mixup = a.mixup;
  s.ema = a.ema;
  parse_split_or_throw(s.eval_split);
  if (s.eval_split == "Training")
    throw UsageError("--eval-split must be PublicTest or PrivateTest, not the training split");
  validate(s);
  r.backend = open_backend(s.device);
  if (a.synthetic && a.o_data->count()) throw UsageError("--synthetic and --data exclude each other");
  if (a.o_data->count()) {
    require_input_file(a.data, "data file");
    s.data = fs::absolute(a.data).lexically_normal().string();
  } else if (!a.synthetic) {
    s.data = data::default_data_path();
  }
  if (!a.init.empty()) {
    require_input_file(a.init, "checkpoint");
    s.init = fs::absolute(a.init).lexically_normal().string();
  }
  r.dir = a.out;
  r.run_json = {{"fernet_version", version_string},
                {"command_line", cmdline},
                {"started", r.started},
                {"settings", settings_json(s)}};
  if (!writer) return r;
  std::error_code ec;
  fs::create_directories(r.dir, ec);
  if (ec || !fs::is_directory(r.dir))
    throw std::runtime_error("cannot create output directory '" + r.dir +
                             "': " + (ec ? ec.message() : std::string("a file of that name exists")));
  // Nothing in the directory changes here: its files are replaced only once the data has loaded
  // (start_fresh), so a mistyped input leaves a previous run as it was.
  const bool holds_run = fs::exists(fs::path(r.dir) / "run.json", ec);
  const bool finished_epoch = fs::exists(fs::path(r.dir) / "last.fernet", ec);
  if (holds_run && finished_epoch && !a.force)
    throw std::runtime_error("'" + r.dir + "' already holds a run; continue it with: fernet train --resume " + r.dir +
                             " (or pass --force to start over, or choose another --out)");
  if (!holds_run && !a.force)
    for (const char* f : run_output_files)
      if (fs::exists(fs::path(r.dir) / f, ec))
        throw std::runtime_error("'" + r.dir + "' holds a file named " + f +
                                 " but no run (no run.json); pass --force to replace fernet's files there, or "
                                 "choose another --out");
  return r;
}

// A new run's directory once its inputs have loaded: the previous run's files (a run that
// finished no epoch, or one replaced with --force) removed, run.json written.
void start_fresh(const RunStart& r) {
  std::error_code ec;
  for (const char* f : run_output_files) fs::remove(fs::path(r.dir) / f, ec);
  try {
    write_text_atomically((fs::path(r.dir) / "run.json").string(), r.run_json.dump(2) + "\n");
  } catch (const IoError& e) {
    throw std::runtime_error("output directory '" + r.dir + "' is not writable: " + e.what());
  }
}

// curves.png, confusion.png and report.json of a finished run; prints the best epoch's report.
// report.json's "processes": how many, where, with how many threads, and the all-reduce's cost.
json processes_json(const Processes& p, const RunResult& r) {
  double session_seconds = 0;
  for (const auto& e : r.history)
    if (e.epoch > r.resumed_from) session_seconds += e.seconds;
  const long calls = p.reductions();
  const double reduce = p.reduce_seconds();
  return {{"ranks", p.count()},
          {"hosts", p.distributed ? json(p.hosts) : json::array({host_name()})},
          {"threads_per_rank", p.distributed ? json(p.threads) : json::array({threads()})},
          {"allreduce",
           {{"steps", calls},
            {"bytes_per_step", p.reduced_bytes()},
            {"seconds", reduce},
            {"seconds_per_step", calls ? reduce / calls : 0.0},
            {"share_of_training_time", session_seconds > 0 ? reduce / session_seconds : 0.0},
            {"note",
             "rank 0's time in MPI_Allreduce of the gradients this session, waiting for slower ranks "
             "included"}}}};
}

void write_report(const RunStart& run, const ModelInfo& m, const RunResult& r, std::size_t training_images,
                  std::size_t eval_images, const std::string& cmdline, double wall_seconds, const Processes& procs) {
  const RunSettings& s = run.settings;
  const std::string& dir = run.dir;
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
  json report = {{"fernet_version", version_string},
                 {"command_line", cmdline},
                 {"original_command_line", run.original_cmdline},
                 {"started", run.started},
                 {"finished", iso_time_now()},
                 {"model", m.name},
                 {"network", m.network},
                 {"parameters", m.parameters},
                 {"loss", m.loss},
                 {"optimizer", m.optimizer},
                 {"preprocess", m.preprocess_name},
                 {"settings", settings_json(s)},
                 {"data",
                  {{"source", s.data.empty() ? json("synthetic") : json(s.data)},
                   {"training_images", training_images},
                   {"eval_split", s.eval_split},
                   {"eval_images", eval_images}}},
                 {"epochs", r.completed_epochs},
                 {"planned_epochs", r.epochs},
                 {"best_epoch", best_epoch},
                 {"evaluation", metrics_json(cm)},
                 {"accuracy", cm.accuracy()},
                 {"eval_loss", number(r.best->loss)},
                 {"last_epoch", r.history.empty() ? json(nullptr) : epoch_json(r.history.back())},
                 {"history", history},
                 {"wall_seconds", wall_seconds},
                 {"train_seconds", train_seconds},
                 {"images_per_second", train_seconds > 0 ? images / train_seconds : 0.0},
                 {"threads", threads()},
                 {"processes", processes_json(procs, r)},
                 {"simd_arch", simd_arch()},
                 {"kernels", kernels::kernel_set_description()},
                 {"device", run.backend ? run.backend->name() : std::string("cpu")},
                 {"cuda", device::cuda_report()},
                 {"machine", machine_json()},
                 {"files",
                  {{"best_checkpoint", "model.fernet"},
                   {"last_checkpoint", "last.fernet"},
                   {"history", "history.csv"},
                   {"curves", "curves.png"},
                   {"confusion", "confusion.png"},
                   {"settings", "run.json"}}}};
  report["evaluation"]["split"] = s.eval_split;
  report["evaluation"]["checkpoint"] = "model.fernet";
  report["evaluation"]["loss"] = number(r.best->loss);
  write_text_atomically((fs::path(dir) / "report.json").string(), report.dump(2) + "\n");

  std::printf("\nbest: epoch %d, %s accuracy %.4f (%ld of %ld)\n", best_epoch, s.eval_split.c_str(), cm.accuracy(),
              cm.correct(), cm.total());
  std::printf("%s", cm.report([](int c) { return data::emotion_name(c); }).c_str());
  std::printf("\nwrote %s: model.fernet (best), last.fernet, history.csv, curves.png, confusion.png, report.json\n",
              dir.c_str());
}

int train_command(const TrainArgs& a, const std::string& cmdline, Processes& procs) {
  const auto wall0 = std::chrono::steady_clock::now();
  const bool writer = procs.writer();
  // Every process prepares; a failure on one ends all of them with its message.
  std::optional<RunStart> started;
  std::optional<data::TrainingSplits> splits;
  std::string description;
  together(procs.distributed, "starting the run", [&] {
    if (a.o_threads->count() && a.threads < 1)
      throw UsageError("--threads must be at least 1 (got " + std::to_string(a.threads) + ")");
    started.emplace(a.resume.empty() ? new_run(a, cmdline, writer) : resume_run(a, cmdline, writer));
    const RunSettings& s = started->settings;
    if (s.threads > 0) set_threads(s.threads);
    splits.emplace(
        data::training_splits(load_data(s.data, description), parse_split_or_throw(s.eval_split), description));
    if (writer && !started->resume) start_fresh(*started);
  });
  const RunStart& run = *started;
  const RunSettings& s = run.settings;
  const ModelInfo& m = *find_model(s.model);
#ifdef FERNET_HAVE_MPI
  if (auto* comm = dynamic_cast<dist::MpiCommunicator*>(procs.distributed)) {
    // Without --threads, the processes on one machine share its cores instead of each taking
    // all of them (Open MPI binds 3 or more processes to a socket, not a core).
    if (s.threads == 0) {
      const int cores = static_cast<int>(std::thread::hardware_concurrency());
      set_threads(std::max(1, std::min(threads(), cores / std::max(1, comm->local_ranks()))));
    }
    procs.hosts = comm->hosts();
    procs.threads = comm->threads_per_rank();
  }
#endif
  const data::Fer2013 &train = splits->train, &eval = splits->eval;
  if (writer && s.data.empty() && !run.resume && !a.synthetic)
    std::printf(
        "data: built-in synthetic faces (no --data given and no FER2013 file found at "
        "../shared/data/fer2013-dev.csv.gz; pass --data FILE for the real data)\n");

  TrainJob job;
  job.settings = s;
  job.data = {train, eval, description, s.eval_split};
  job.out_dir = run.dir;
  job.resume = run.resume;
  job.stop = &stop_requested();
  job.backend = run.backend.get();
  job.distributed = procs.distributed;
  job.preprocess = run_preprocess(s, m);
  store_preprocess(job.extra_meta, job.preprocess);
  job.extra_meta["preprocess"] = s.normalize ? "centered" : m.preprocess_name;
  job.extra_meta["data"] = s.data.empty() ? "synthetic" : s.data;
  job.extra_meta["eval_split"] = s.eval_split;
  job.extra_meta["fernet_version"] = version_string;

  RunResult r;
  {
    StopSignals signals;
    r = m.train(job);
  }
  if (!writer) return r.completed ? 0 : 128 + (stop_signal() ? stop_signal() : SIGINT);
  if (!r.completed) {
    const int sig = stop_signal();
    std::printf("Interrupted by %s. %s; continue with: fernet train --resume %s\n",
                sig == SIGTERM  ? "SIGTERM"
                : sig == SIGINT ? "SIGINT"
                                : "a signal to another process of the job",
                r.completed_epochs > 0 ? ("epoch " + std::to_string(r.completed_epochs) + " is saved in " +
                                          (fs::path(run.dir) / "last.fernet").string())
                                             .c_str()
                                       : "no epoch finished",
                shell_quote(run.dir).c_str());
    std::fflush(stdout);
    return 128 + (sig ? sig : SIGINT);
  }
  if (run.resume && r.resumed_from >= r.epochs)
    std::printf("The run had already finished its %d epochs; rewriting its plots and report.\n", r.epochs);
  const double wall = std::chrono::duration<double>(std::chrono::steady_clock::now() - wall0).count();
  write_report(run, m, r, train.size(), eval.size(), cmdline, wall, procs);
  return 0;
}

// Under an MPI launcher, one process of a data-parallel run (when built with FERNET_MPI).
int cmd_train(const TrainArgs& a, const std::string& cmdline) {
  Processes procs;
  const int launched = dist::launched_processes();
#ifdef FERNET_HAVE_MPI
  std::optional<dist::MpiSession> mpi;
  std::optional<dist::MpiCommunicator> comm;
  if (launched > 0) {
    mpi.emplace(nullptr, nullptr);
    comm.emplace();
    procs.distributed = &*comm;
    procs.reduce_seconds = [&] { return comm->reduce_seconds(); };
    procs.reductions = [&] { return comm->reductions(); };
    procs.reduced_bytes = [&] { return comm->reductions() ? comm->reduced_bytes() / comm->reductions() : 0; };
  }
  try {
    return train_command(a, cmdline, procs);
  } catch (const CollectiveError& e) {
    // Every process raised it at the same point: all end normally, each with its own error's
    // exit status where it has one (a usage error every process found exits 2).
    if (e.cause) std::rethrow_exception(e.cause);
    throw;
  } catch (const TrainingDiverged&) {
    throw;  // likewise (the processes agree on a NaN before raising it)
  } catch (const std::exception& e) {
    if (procs.count() == 1) throw;
    // Only this process knows: the others would wait for it forever.
    std::fflush(stdout);
    std::fprintf(stderr, "fernet: error on rank %d of %d: %s\nfernet: ending every process of the job\n",
                 procs.distributed->rank(), procs.count(), printable(e.what()).c_str());
    dist::MpiSession::abort(dynamic_cast<const UsageError*>(&e) ? 2 : 1);
  }
#else
  if (launched > 1)
    throw UsageError("this fernet was built without MPI support, but it was started as one of " +
                     std::to_string(launched) +
                     " processes by an MPI launcher (mpirun, mpiexec or srun): each would train alone and write "
                     "the same files. Rebuild with MPI (install libopenmpi-dev; cmake -DFERNET_MPI=ON), or run one "
                     "fernet without mpirun");
  return train_command(a, cmdline, procs);
#endif
}

}  // namespace

Command add_train_command(CLI::App& app, const std::string& cmdline) {
  auto a = std::make_shared<TrainArgs>();
  auto* train =
      app.add_subcommand("train", "Train a notebook network; writes the model, history, plots and report to --out DIR");
  a->o_model = train->add_option("--model", a->model, "network: " + model_names());
  a->o_data = train->add_option("--data", a->data,
                                "FER2013 CSV (plain or .gz); default ../shared/data/fer2013-dev.csv.gz when present, "
                                "else the built-in synthetic set");
  a->o_synthetic = train->add_flag("--synthetic", a->synthetic,
                                   "train on the built-in synthetic faces even when real data is present");
  a->o_epochs = train->add_option("--epochs", a->epochs,
                                  "epochs (default: the model's recipe); with --time-budget, the most it may fit");
  a->o_time_budget = train->add_option(
      "--time-budget", a->time_budget,
      "train as many epochs as fit in this many minutes at the first epoch's pace (training and evaluation), the "
      "schedule set to that length; 0: none (default: the model's recipe, e.g. 60 for vgg-fast, unless --epochs "
      "is given)");
  a->o_batch = train->add_option("--batch", a->batch, "batch size (default: the notebook's)");
  a->o_lr = train->add_option("--lr", a->lr, "learning rate (default: the notebook's)");
  a->o_seed =
      train->add_option("--seed", a->seed, "seed for initialisation, shuffling and dropout (default: the notebook's)");
  a->o_threads = train->add_option("--threads", a->threads, "CPU threads (default: all cores; under mpirun, each machine's cores shared among its processes)");
  a->o_device =
      train
          ->add_option("--device", a->device,
                       "where to train: cpu, cuda, cuda:N, or emulated (the GPU code path on the CPU, for testing)")
          ->capture_default_str();
  a->o_split =
      train->add_option("--eval-split", a->eval_split, "split evaluated after every epoch")->capture_default_str();
  a->o_init = train->add_option("--init", a->init, "start from this checkpoint's weights (same network)");
  a->o_out = train->add_option("--out", a->out, "output directory");
  a->o_force = train->add_flag("--force", a->force, "start over in an --out directory that already holds a run");
  a->o_normalize = train->add_flag("--normalize", a->normalize,
                                   "zero-centred inputs, (pixel - 127.5) / 63.75, instead of the model's preprocessing");
  a->o_augment = train->add_option("--augment", a->augment,
                                   "training augmentation, e.g. crop=44:2,flip,affine=10:0.05:0.1,erasing=0.25,"
                                   "jitter=0.2:0.2, or none (default: the model's recipe)");
  a->o_schedule = train->add_option("--schedule", a->schedule,
                                    "learning-rate schedule: constant, cosine[:WARMUP], step:SIZE[:GAMMA], onecycle, "
                                    "plateau[:PATIENCE[:FACTOR]] (default: the model's recipe)");
  a->o_smoothing = train->add_option("--label-smoothing", a->label_smoothing,
                                     "label smoothing eps in [0, 1) (default: the model's recipe)");
  a->o_tta = train->add_option("--tta", a->tta,
                               "evaluation views: none, center:SIZE, mirrored:SIZE, ten-crop:SIZE (default: the "
                               "model's recipe); recorded in the checkpoint for eval and predict");
  a->o_clip = train->add_option("--clip-grad-norm", a->clip_grad_norm,
                                "clip the gradient's global L2 norm to this before each step (CPU only; 0: off)");
  a->o_equalize = train->add_flag("--equalize", a->equalize,
                                  "histogram-equalise every image first (as OpenCV's equalizeHist); recorded in the "
                                  "checkpoint, so eval and predict do the same");
  a->o_mixup = train->add_option("--mixup", a->mixup,
                                 "mixup with lambda ~ Beta(ALPHA, ALPHA) per batch, e.g. 0.2 (CPU only; 0: off)");
  a->o_ema = train->add_option("--ema", a->ema,
                               "average the weights with this decay after every step, e.g. 0.999 (CPU only; 0: "
                               "off); evaluation and the saved models use the averages");
  train->add_option("--resume", a->resume, "continue the interrupted run in this directory (no other flags needed)");
  return {train, [a, cmdline] { return cmd_train(*a, cmdline); }};
}

}  // namespace fernet::app
