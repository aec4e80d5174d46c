#pragma once
// One training run from a recipe, the way every fernet program trains: the network (seeded, or
// from a checkpoint's weights), its optimiser, the training and evaluation batches, the
// start-up banner, the Trainer (resumed when asked), and the results. The examples and the
// fernet program both call train_from_recipe; the data are any labelled images
// (data/labelled_images.hpp), so a run needs neither FER2013 nor zlib.
//
//   auto run = run_from_recipe<Adam>(recipes::cnn_adam);     // the notebook's numbers
//   run.config.epochs = 3;                                   // override any of them
//   const RunResult r = train_from_recipe<networks::NetAdam, NLLLoss>(run, {train, eval, "my data"});
#include <algorithm>
#include <cstdio>
#include <filesystem>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include "../checkpoint.hpp"
#include "../data/batches.hpp"
#include "../data/labelled_images.hpp"
#include "../loss.hpp"
#include "../optim/adam.hpp"
#include "../optim/sgd.hpp"
#include "../parallel.hpp"
#include "../kernels/kernel_set.hpp"
#include "../simd.hpp"
#include "../version.hpp"
#include "distributed.hpp"
#include "options_text.hpp"
#include "recipes.hpp"
#include "time_budget.hpp"
#include "trainer.hpp"

namespace fernet {

template <class Loss>
std::string loss_name() {
  if constexpr (std::is_same_v<Loss, NLLLoss>) return "NLLLoss";
  else if constexpr (std::is_same_v<Loss, CrossEntropyLoss>) return "CrossEntropyLoss";
  else return "custom loss";
}

template <class Optimizer>
std::string optimizer_name(const typename Optimizer::Options& o) {
  if constexpr (std::is_same_v<Optimizer, Adam>) return o.decoupled ? "AdamW" : "Adam";
  else if constexpr (std::is_same_v<Optimizer, SGD>) {
    if (o.momentum == 0) return "SGD";
    char text[48];
    std::snprintf(text, sizeof text, "SGD (momentum %g)", static_cast<double>(o.momentum));
    return text;
  } else return "custom optimizer";
}

// What a run trains and evaluates on.
struct RunData {
  data::LabelledImages train;
  data::LabelledImages eval;                   // evaluated after every epoch; empty: no evaluation
  std::string description = "in-memory data";  // where the images came from (the banner says it)
  std::string eval_name = "evaluation";        // what `eval` is (e.g. a split name), for the banner
};

template <class Optimizer>
struct TrainingRun {
  // model_name (the recipe's name: banner and checkpoints), epochs, seed (initialisation,
  // shuffling, dropout), output files, stop flag, device backend, progress line.
  TrainConfig config;
  std::string network;                      // the network's name, for the banner
  std::string notebook;                     // what the notebook reached, for the banner (empty: no line)
  int batch = 100;                          // training batch; evaluation uses max(batch, 500)
  typename Optimizer::Options optimizer{};  // the learning rate among them
  data::Preprocess preprocess;
  // Accuracy options in options_text.hpp's forms (empty: none), recorded in the checkpoints;
  // label smoothing and gradient clipping are config.step.
  std::string augment;   // training augmentation
  std::string schedule;  // learning-rate schedule (base lr: optimizer.lr)
  std::string tta;       // evaluation views
  std::string init;      // start from this checkpoint's weights (the same network)
  bool resume = false;             // continue the run saved in config.last_checkpoint
  std::vector<std::string> notes;  // more banner lines (e.g. the output directory)
};

// A run with a recipe's numbers; `options` gives the optimiser's other settings (momentum...).
template <class Optimizer>
TrainingRun<Optimizer> run_from_recipe(const Recipe& r, typename Optimizer::Options options = {}) {
  TrainingRun<Optimizer> run;
  run.config.model_name = r.name;
  const RunLength length = run_length(r, std::nullopt, std::nullopt);
  run.config.epochs = length.epochs;
  run.config.time_budget_seconds = length.time_budget_minutes * 60;
  run.config.seed = r.seed;
  run.network = r.network;
  run.notebook = r.notebook;
  run.batch = r.batch;
  options.lr = static_cast<float>(r.lr);
  if constexpr (std::is_same_v<Optimizer, SGD>) {
    if (r.momentum != 0.f) options.momentum = r.momentum;
    if (r.weight_decay != 0.f) options.weight_decay = r.weight_decay;
    if (r.nesterov) options.nesterov = true;
  }
  run.optimizer = options;
  run.preprocess = r.preprocess;
  run.augment = r.augment;
  run.schedule = r.schedule;
  run.tta = r.tta;
  run.config.step.label_smoothing = r.label_smoothing;
  return run;
}

struct RunResult {
  bool completed = false;  // false: stopped by config.stop
  int completed_epochs = 0;
  int resumed_from = 0;  // epochs already done when the run started
  int epochs = 0;        // the run's epoch count (a budgeted run's as fitted after its first epoch)
  std::vector<EpochRecord> history;
  double best_accuracy = -1;
  std::optional<Evaluation> last;  // the last epoch's evaluation
  std::optional<Evaluation> best;  // config.best_checkpoint evaluated again, when one was written
};

// The batches must be what Net takes: a clear message instead of reading past a batch.
template <class Net>
void check_input_size(const data::BatchLoader& loader, const std::string& network_name) {
  const auto& s = loader.data().shape();
  const int floats = loader.sample_floats();
  if (static_cast<std::size_t>(floats) != Net::input_shape::size)
    throw std::invalid_argument("network '" + network_name + "' takes " + Net::input_shape::str() + " = " +
                                std::to_string(Net::input_shape::size) + " values per image, but " + s.str() +
                                " images preprocessed to " + std::to_string(floats / std::max(1, s.height * s.width)) +
                                " channels give " + std::to_string(floats));
}

// The lines every run starts with: fernet and the machine, the data, the notebook, the network.
template <class Net, class Loss, class Optimizer>
void print_banner(const TrainingRun<Optimizer>& run, const RunData& d) {
  const TrainConfig& c = run.config;
  std::printf("fernet %s | %s | kernels %s | %d threads | device %s\n", version_string, c.model_name.c_str(),
              kernels::kernel_set_description().c_str(), threads(), c.backend ? c.backend->name().c_str() : "cpu");
  if (c.distributed)
    std::printf("data-parallel: %d processes x %d threads; batch %d split into shares of %d to %d\n",
                c.distributed->ranks(), threads(), run.batch, run.batch / c.distributed->ranks(),
                (run.batch + c.distributed->ranks() - 1) / c.distributed->ranks());
  std::printf("data: %zu training and %zu %s images from %s\n", d.train.size(), d.eval.size(), d.eval_name.c_str(),
              d.description.c_str());
  if (!run.notebook.empty()) std::printf("notebook: %s\n", run.notebook.c_str());
  char epochs[96];
  if (c.time_budget_seconds > 0)
    std::snprintf(epochs, sizeof epochs, "as many as fit in %.3g min (at most %d, fixed after epoch 1)",
                  c.time_budget_seconds / 60, c.epochs);
  else std::snprintf(epochs, sizeof epochs, "%d", c.epochs);
  std::printf("network: %s%s, %zu parameters, %s, %s; epochs %s, batch %d, lr %g, seed %llu\n",
              run.network.empty() ? "" : (run.network + " ").c_str(), Net::shape_string().c_str(), Net::parameter_count,
              loss_name<Loss>().c_str(), optimizer_name<Optimizer>(run.optimizer).c_str(), epochs, run.batch,
              static_cast<double>(run.optimizer.lr), static_cast<unsigned long long>(c.seed));
  if (!run.augment.empty() || !run.schedule.empty() || !run.tta.empty() || c.step.label_smoothing != 0.f ||
      c.step.max_grad_norm != 0.f || c.mixup_alpha > 0.f || c.ema)
    std::printf("augment %s; schedule %s; label smoothing %g; gradient clipping %s; evaluation views %s\n",
                run.augment.empty() ? "none" : run.augment.c_str(), run.schedule.empty() ? "constant" : run.schedule.c_str(),
                static_cast<double>(c.step.label_smoothing),
                c.step.max_grad_norm > 0 ? std::to_string(c.step.max_grad_norm).c_str() : "none",
                run.tta.empty() ? "as trained" : run.tta.c_str());
  if (c.mixup_alpha > 0.f && !c.ema) std::printf("mixup alpha %g; weight averaging none\n", double(c.mixup_alpha));
  if (c.ema)
    std::printf("mixup alpha %g; weight averaging decay %g\n", double(c.mixup_alpha), double(c.ema->decay));
  if (run.preprocess.equalize) std::printf("preprocessing: histogram equalisation first\n");
  for (const auto& line : run.notes) std::printf("%s\n", line.c_str());
  std::fflush(stdout);
}

// Data-parallel runs: every process must train the same network on the same data with the same
// settings; a clear message on all of them when not (a different build, file or flag).
template <class Net, class Optimizer>
void check_processes_agree(Distributed& dist, const TrainingRun<Optimizer>& run, const RunData& d) {
  const std::string sig = Net::signature();
  dist.check_same("the network (" + run.config.model_name + ")", fnv1a(sig.data(), sig.size()));
  dist.check_same("the training data (" + d.description + ")", data_checksum(d.train));
  dist.check_same("the evaluation data", data_checksum(d.eval));
  // Numbers as exact hexadecimal floats.
  std::string settings = run.config.model_name + "|" + std::to_string(run.config.epochs) + "|" +
                         std::to_string(run.config.seed) + "|" + std::to_string(run.batch) + "|" + run.augment + "|" +
                         run.schedule + "|" + run.tta + "|" + run.init + "|" + std::to_string(run.resume);
  const TrainConfig& c = run.config;
  for (const double v : {double(run.optimizer.lr), c.time_budget_seconds, double(c.step.label_smoothing), double(c.step.max_grad_norm),
                         double(c.mixup_alpha), c.ema ? double(c.ema->decay) : 0.0, double(run.preprocess.scale),
                         double(run.preprocess.offset), double(run.preprocess.channels + 2 * run.preprocess.equalize)}) {
    char text[40];
    std::snprintf(text, sizeof text, "|%a", v);
    settings += text;
  }
  dist.check_same("the settings (model, epochs, seed, batch, lr, time budget, augmentation, schedule, views, init, resume, "
                  "smoothing, clipping, mixup, EMA, preprocessing)",
                  fnv1a(settings.data(), settings.size()));
}

template <class Net, class Loss, class Optimizer>
RunResult train_from_recipe(const TrainingRun<Optimizer>& run, const RunData& d) {
  TrainConfig c = run.config;
  Distributed* const dist = c.distributed;
  if (dist) check_processes_agree<Net>(*dist, run, d);
  if (d.train.size() == 0) throw std::invalid_argument("train_from_recipe: no training images in " + d.description);
  data::BatchLoader train(d.train, run.batch, run.preprocess, true, c.seed);
  train.set_pipeline(options_text::parse_augment(run.augment, run.preprocess));
  std::optional<data::BatchLoader> eval;
  if (d.eval.size() > 0) eval.emplace(d.eval, std::max(run.batch, 500), run.preprocess, false, c.seed);
  check_input_size<Net>(train, c.model_name);
  c.schedule = options_text::parse_schedule(run.schedule, run.optimizer.lr, c.epochs, train.batches());
  c.tta = options_text::parse_tta(run.tta);
  if (eval && !c.tta && static_cast<std::size_t>(eval->sample_floats()) != Net::input_shape::size)
    throw std::invalid_argument("network '" + c.model_name + "' takes " + Net::input_shape::str() + " images but the " +
                                d.eval_name + " images are " + eval->sample_shape().str() +
                                ": evaluate with test-time views of that size (e.g. tta 'center:" +
                                std::to_string(Net::input_shape::height) + "')");
  // What eval and predict need to see the images as training did (they read the checkpoint).
  c.extra_meta.emplace("augment", run.augment);
  c.extra_meta.emplace("schedule", run.schedule);
  c.extra_meta.emplace("tta", run.tta);
  char eps[32];
  std::snprintf(eps, sizeof eps, "%g", static_cast<double>(c.step.label_smoothing));
  c.extra_meta.emplace("label_smoothing", eps);
  std::snprintf(eps, sizeof eps, "%g", static_cast<double>(c.mixup_alpha));
  c.extra_meta.emplace("mixup", eps);
  std::snprintf(eps, sizeof eps, "%g", c.ema ? static_cast<double>(c.ema->decay) : 0.0);
  c.extra_meta.emplace("ema", eps);
  if (!dist || dist->writer()) print_banner<Net, Loss>(run, d);

  auto net = std::make_unique<Net>(c.seed);
  Optimizer opt(*net, run.optimizer);
  Trainer<Loss, Net, Optimizer> trainer(*net, opt, c);
  RunResult r;
  // Every process reads the checkpoint (a shared or copied directory); fit() checks they agree.
  together(dist, "loading the checkpoint", [&] {
    if (run.resume) trainer.resume(c.last_checkpoint);
    else if (!run.init.empty()) restore_checkpoint(*net, Checkpoint::load(run.init), run.init, c.model_name);
  });
  if (run.resume) {
    r.resumed_from = trainer.completed_epochs();
    if (!dist || dist->writer()) std::printf("resuming after epoch %d of %d\n", r.resumed_from, trainer.epochs());
    std::fflush(stdout);
  }
  r.completed = trainer.fit(train, eval ? &*eval : nullptr);
  r.completed_epochs = trainer.completed_epochs();
  r.epochs = trainer.epochs();
  r.history = trainer.history();
  r.best_accuracy = trainer.best_accuracy();
  r.last = trainer.last_evaluation();
  if (r.completed && eval && (!dist || dist->writer()) && !c.best_checkpoint.empty() &&
      std::filesystem::exists(c.best_checkpoint)) {
    auto best = std::make_unique<Net>(c.seed);
    restore_checkpoint(*best, Checkpoint::load(c.best_checkpoint), c.best_checkpoint, c.model_name);
    r.best = c.tta ? evaluate_tta<Loss>(*best, *eval, *c.tta) : evaluate<Loss>(*best, *eval);
  }
  return r;
}

}  // namespace fernet
