#pragma once
// The training loop shared by every example and the fernet program: epochs over shuffled
// batches, the notebook's per-epoch line, a live progress line on terminals, history CSV,
// evaluation with a confusion matrix, checkpoints (last and best, atomically written, with
// optimiser state so a run can resume), a NaN/inf guard and a cooperative stop flag.
#include <atomic>
#include <chrono>
#include <cmath>
#include <cstdio>
#include <functional>
#include <map>
#include <memory>
#include <optional>
#include <stdexcept>
#include <string>
#include <type_traits>
#include <vector>

#include <unistd.h>

#include "../checkpoint.hpp"
#include "../data/augment/mixup.hpp"
#include "../data/augment/seed.hpp"
#include "../data/batches.hpp"
#include "../device/model.hpp"
#include "../hash.hpp"
#include "../loss.hpp"
#include "../optim/adam.hpp"
#include "../optim/regularise.hpp"
#include "../optim/schedule.hpp"
#include "../optim/sgd.hpp"
#include "../parallel.hpp"
#include "distributed.hpp"
#include "metrics.hpp"
#include "time_budget.hpp"
#include "tta.hpp"

namespace fernet {

struct TrainingDiverged : std::runtime_error {
  using std::runtime_error::runtime_error;
};

struct EpochRecord {
  int epoch = 0;
  double train_loss = 0, train_accuracy = 0;
  double test_loss = NAN, test_accuracy = NAN;
  double seconds = 0, images_per_second = 0;  // the epoch's training
  // Wall clock since the run began, evaluations included, a resumed run's sessions summed (the
  // x axis of time to accuracy).
  double elapsed_seconds = 0;
};

// The rows of a history CSV as Trainer::history_csv writes it (the checkpoints' "history" and
// DIR/history.csv); lines that do not parse are skipped.
inline std::vector<EpochRecord> parse_history_csv(const std::string& csv) {
  std::vector<EpochRecord> out;
  std::size_t pos = csv.find('\n');
  while (pos != std::string::npos && pos + 1 < csv.size()) {
    const std::size_t next = csv.find('\n', pos + 1);
    const std::string line = csv.substr(pos + 1, next - pos - 1);
    EpochRecord r;
    // Histories written before elapsed_seconds existed have 7 fields.
    if (std::sscanf(line.c_str(), "%d,%lf,%lf,%lf,%lf,%lf,%lf,%lf", &r.epoch, &r.train_loss, &r.train_accuracy,
                    &r.test_loss, &r.test_accuracy, &r.seconds, &r.images_per_second, &r.elapsed_seconds) >= 7)
      out.push_back(r);
    pos = next;
  }
  return out;
}

struct Evaluation {
  double loss = 0;
  ConfusionMatrix confusion;
  double accuracy() const { return confusion.accuracy(); }
};

struct TrainConfig {
  std::string model_name;  // recorded in checkpoints
  int epochs = 15;         // with a time budget, the most it may fit
  // When > 0: after the first epoch, `epochs` becomes the most that fit in this many seconds at
  // that epoch's pace (training and evaluation; train/time_budget.hpp), and the schedule's
  // length follows. The count is kept in the checkpoints, so a resumed run trains to it.
  double time_budget_seconds = 0;
  std::uint64_t seed = 0;                            // model initialisation, shuffling, dropout
  bool progress = ::isatty(1);                       // live progress line (terminals only)
  std::string history_csv;                           // rewritten after every epoch when not empty
  std::string last_checkpoint;                       // saved after every epoch when not empty
  std::string best_checkpoint;                       // saved when the test accuracy improves
  std::map<std::string, std::string> extra_meta;     // added to every checkpoint (e.g. preprocessing)
  const std::atomic<bool>* stop = nullptr;           // set (e.g. by SIGINT) to stop at a batch boundary
  std::function<void(const EpochRecord&)> on_epoch;  // after each epoch's line
  // Test hook: called after each checkpoint file is written, with its path (the fault tests
  // kill the process here, between or after the writes, and resume).
  std::function<void(const std::string&)> after_checkpoint_write;
  // Train on this device backend (device::make_backend("cuda")) instead of the CPU. The model
  // and optimiser state move to the device when fit() starts and come back after every epoch
  // (for evaluation-free checkpoints and the caller); evaluation also runs on the device.
  device::Backend* backend = nullptr;
  // Learning rate before every optimiser step: schedule->lr(epochs completed, optimiser steps);
  // ReduceLROnPlateau sees the evaluation metric after each epoch. Its state is in checkpoints.
  std::optional<LrSchedule> schedule;
  StepOptions step;  // label smoothing, gradient clipping (CPU only)
  // Mixup (data/augment/mixup.hpp) with lambda ~ Beta(alpha, alpha) per batch, drawn from
  // augment::batch_rng(seed, epoch, batch); label smoothing applies to its targets. CPU only.
  float mixup_alpha = 0.f;  // 0: off
  // Weight averaging (EMA, optim/regularise.hpp) after every step, CPU only. Evaluation and every
  // checkpoint's weights are then the averages (what eval, predict and export load); the weights
  // training continues from are kept in checkpoint sections "training.parameters"/".buffers".
  std::optional<WeightAverage::Options> ema;
  // Evaluation with test-time augmentation: the evaluation loader gives full-size images and the
  // network sees these views (networks trained on crops need at least the centre view).
  std::optional<tta::Options> tta;
  // Data-parallel training over several processes (train/distributed.hpp; dist/mpi.hpp makes one
  // over MPI): each trains on its share of every batch, and rank 0 alone evaluates, prints and
  // writes the files above. CPU only. Null: this process alone.
  Distributed* distributed = nullptr;
};


// Optimiser state in checkpoints, so that a resumed run continues exactly.
inline void save_optimizer(Checkpoint& c, SGD& o) {
  c.meta["optimizer"] = "SGD";
  c.meta["optimizer_steps"] = std::to_string(o.steps());
  c.set_section("sgd.momentum", o.state());
}
inline void save_optimizer(Checkpoint& c, Adam& o) {
  c.meta["optimizer"] = o.options().decoupled ? "AdamW" : "Adam";
  c.meta["optimizer_steps"] = std::to_string(o.steps());
  c.set_section("adam.m", o.first_moment());
  c.set_section("adam.v", o.second_moment());
}
inline void restore_optimizer(const Checkpoint& c, SGD& o, const std::string& src) {
  if (c.get("optimizer") != "SGD")
    throw CheckpointError(src + ": checkpoint optimiser is '" + c.get("optimizer") + "', not SGD");
  c.copy_section("sgd.momentum", o.state(), src);
  o.set_steps(static_cast<long>(detail::checkpoint_integer(c, "optimizer_steps", 0, 0, 1ll << 50, src)));
}
inline void restore_optimizer(const Checkpoint& c, Adam& o, const std::string& src) {
  const std::string want = o.options().decoupled ? "AdamW" : "Adam";
  if (c.get("optimizer") != want)
    throw CheckpointError(src + ": checkpoint optimiser is '" + c.get("optimizer") + "', not " + want);
  c.copy_section("adam.m", o.first_moment(), src);
  c.copy_section("adam.v", o.second_moment(), src);
  o.set_steps(static_cast<long>(detail::checkpoint_integer(c, "optimizer_steps", 0, 0, 1ll << 50, src)));
}

// Mean loss and confusion matrix over every sample of loader; forward(images, n) returns the
// n x k scores on the host.
template <class Loss, class Forward>
Evaluation evaluate_with(int k, data::BatchLoader& loader, Forward&& forward) {
  Evaluation ev{0.0, ConfusionMatrix(k)};
  loader.start_epoch(0);
  double loss_sum = 0;
  for (int b = 0; b < loader.batches(); ++b) {
    const auto batch = loader.batch(b);
    const float* y = forward(batch.images, batch.size);
    loss_sum += static_cast<double>(Loss::compute(y, batch.labels, batch.size, k)) * batch.size;
    for (int i = 0; i < batch.size; ++i) ev.confusion.add(batch.labels[i], argmax_row(y + i * k, k));
  }
  ev.loss = loader.samples() ? loss_sum / loader.samples() : 0.0;
  return ev;
}

// Evaluation of a CPU network, in evaluation mode.
template <class Loss, class Net>
Evaluation evaluate(Net& net, data::BatchLoader& loader) {
  const bool was_training = net.training();
  net.eval();
  const Evaluation ev = evaluate_with<Loss>(static_cast<int>(Net::output_shape::size), loader,
                                            [&](const float* x, int n) { return net.infer(x, n); });
  net.train(was_training);
  return ev;
}

// Evaluation with test-time augmentation (train/tta.hpp) of a CPU network, in evaluation mode.
template <class Loss, class Net>
Evaluation evaluate_tta(Net& net, data::BatchLoader& loader, const tta::Options& o) {
  const bool was_training = net.training();
  net.eval();
  tta::Evaluation t = tta::evaluate<Loss>(static_cast<int>(Net::output_shape::size), loader.sample_shape(), loader,
                                          [&](const float* x, int n) { return net.infer(x, n); }, o);
  net.train(was_training);
  return {t.loss, std::move(t.confusion)};
}

// Evaluation of a network on a device: scores come back to the host batch by batch.
template <class Loss, class Net>
Evaluation evaluate(device::DeviceModel<Net>& dev, data::BatchLoader& loader) {
  constexpr int k = static_cast<int>(Net::output_shape::size);
  const bool was_training = dev.training();
  dev.eval();
  std::vector<float> scores;
  const Evaluation ev = evaluate_with<Loss>(k, loader, [&](const float* x, int n) {
    scores.resize(static_cast<std::size_t>(n) * k);
    dev.predict(x, n, scores.data());
    return static_cast<const float*>(scores.data());
  });
  dev.train(was_training);
  return ev;
}
template <class Loss, class Net>
Evaluation evaluate_tta(device::DeviceModel<Net>& dev, data::BatchLoader& loader, const tta::Options& o) {
  constexpr int k = static_cast<int>(Net::output_shape::size);
  const bool was_training = dev.training();
  dev.eval();
  std::vector<float> scores;
  tta::Evaluation t = tta::evaluate<Loss>(
      k, loader.sample_shape(), loader,
      [&](const float* x, int n) {
        scores.resize(static_cast<std::size_t>(n) * k);
        dev.predict(x, n, scores.data());
        return static_cast<const float*>(scores.data());
      },
      o);
  dev.train(was_training);
  return {t.loss, std::move(t.confusion)};
}

template <class Loss, class Net, class Optimizer>
class Trainer {
 public:
  Trainer(Net& net, Optimizer& opt, TrainConfig cfg) : net_(net), opt_(opt), cfg_(std::move(cfg)) {
    if (cfg_.epochs <= 0) throw std::invalid_argument("epochs must be at least 1, got " + std::to_string(cfg_.epochs));
    for (const std::string& problem :
         {time_budget_problem(cfg_.time_budget_seconds, "seconds"),
          cfg_.schedule ? time_budget_schedule_problem(budgeted(), *cfg_.schedule) : std::string()})
      if (!problem.empty()) throw std::invalid_argument(problem);
  }

  // Continue from a checkpoint written by this trainer: weights, buffers, optimiser state,
  // dropout stream and epoch count.
  void resume(const std::string& path) {
    const Checkpoint c = Checkpoint::load(path);
    restore_checkpoint(net_, c, path, cfg_.model_name);
    restore_optimizer(c, opt_, path);
    net_.set_noise_step(static_cast<std::uint64_t>(detail::checkpoint_integer(c, "noise_step", 0, 0, 1ll << 60, path)));
    // The schedule continues from its saved state (ReduceLROnPlateau's history included); a
    // run without one refuses a checkpoint that has one rather than dropping it silently.
    if (cfg_.schedule) cfg_.schedule = LrSchedule::restore(c, path);
    else if (!c.get("lr_schedule").empty())
      throw CheckpointError(path + ": the checkpoint was trained with the learning-rate schedule '" +
                            c.get("lr_schedule") + "' but this run has none");
    // With weight averaging the checkpoint's weights are the averages, now in net_; the
    // training weights come from their own sections. Either both runs average or neither.
    const bool averaged = !c.get("ema_updates").empty();
    if (averaged != cfg_.ema.has_value())
      throw CheckpointError(path + (averaged ? ": the checkpoint was trained with weight averaging (EMA) but this run "
                                               "has none"
                                             : ": this run averages weights (EMA) but the checkpoint was trained "
                                               "without"));
    if (averaged) {
      ema_.emplace(net_, *cfg_.ema);
      ema_->set_updates(static_cast<long>(detail::checkpoint_integer(c, "ema_updates", 0, 0, 1ll << 50, path)));
      c.copy_section("training.parameters", net_.parameters(), path);
      c.copy_section("training.buffers", net_.buffers(), path);
    }
    completed_ = static_cast<int>(detail::checkpoint_integer(c, "epoch", 0, 0, 1000000, path));
    // A budgeted run trains to the count its first epoch fixed; a run without a budget (or one
    // told its epochs again) trains to cfg.epochs.
    const bool fitted = !c.get("budget_epochs").empty();
    if (budgeted() && !fitted && completed_ > 0)
      throw CheckpointError(path + ": this run has a time budget but the checkpoint was trained without one");
    if (budgeted() && fitted) {
      cfg_.epochs = static_cast<int>(detail::checkpoint_integer(c, "budget_epochs", 0, 1, 1000000, path));
      length_fixed_ = true;
    }
    best_accuracy_ = detail::checkpoint_real(c, "best_accuracy", -1, -1, 1, path);
    history_ = parse_history_csv(c.get("history"));
  }

  // Trains from the next epoch to cfg.epochs. Returns false when stopped early by the flag.
  bool fit(data::BatchLoader& train, data::BatchLoader* test) {
    flush_denormals_all_threads();
    net_.train();
    if (cfg_.backend && (cfg_.ema || cfg_.mixup_alpha > 0.f))
      throw std::invalid_argument(std::string("fernet::Trainer: ") + (cfg_.ema ? "weight averaging (EMA)" : "mixup") +
                                  " runs on the CPU only; it is not implemented on device backend '" +
                                  cfg_.backend->name() + "'");
    if (Distributed* d = cfg_.distributed) {
      train.set_shard(d->rank(), d->ranks());
      // Every process must start from the same state (same seed or checkpoint).
      d->check_same("the starting weights", weights_hash());
      d->check_same("the epochs already done", static_cast<std::uint64_t>(completed_));
    }
    if (cfg_.ema && !ema_) ema_.emplace(net_, *cfg_.ema);  // from the starting weights (--init's included)
    if (!cfg_.backend) return run_epochs(net_, opt_, train, test, [] {}, [] {});
    // On a device, the model and optimiser state live there for the whole run and come back to
    // the host network and optimiser after every epoch (checkpoints, evaluation-free callers).
    device::DeviceModel<Net> dev(*cfg_.backend, net_);
    device::DeviceOptimizer<Optimizer> dev_opt(dev, opt_);
    return run_epochs(
        dev, dev_opt, train, test,
        [&] {
          dev.download(net_);
          dev_opt.download();
        },
        [&] { dev.upload_buffers(net_); });
  }

  const std::vector<EpochRecord>& history() const { return history_; }
  const std::optional<Evaluation>& last_evaluation() const { return last_eval_; }
  int completed_epochs() const { return completed_; }
  // The run's epoch count: cfg.epochs, or a budgeted run's fitted count once its first epoch is done.
  int epochs() const { return cfg_.epochs; }
  double best_accuracy() const { return best_accuracy_; }

  static std::string history_header() {
    return "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second,elapsed_seconds\n";
  }
  static std::string history_row(const EpochRecord& r) {
    char line[256];
    std::snprintf(line, sizeof line, "%d,%.6f,%.6f,%.6f,%.6f,%.3f,%.1f,%.3f\n", r.epoch, r.train_loss,
                  r.train_accuracy, r.test_loss, r.test_accuracy, r.seconds, r.images_per_second, r.elapsed_seconds);
    return line;
  }
  std::string history_csv() const {
    std::string s = history_header();
    for (const auto& r : history_) s += history_row(r);
    return s;
  }

 private:
  bool writer() const { return !cfg_.distributed || cfg_.distributed->writer(); }

  // FNV-1a of the parameters and buffers: the processes of a data-parallel run compare it.
  std::uint64_t weights_hash() const {
    const std::uint64_t h = fnv1a(net_.parameters().data(), net_.parameters().size_bytes());
    return fnv1a(net_.buffers().data(), net_.buffers().size_bytes(), h);
  }

  // The epoch loop, one body for the CPU network and its device form: Model is the network
  // (Sequential) or a device::DeviceModel, Opt the optimiser or its device form; to_host()
  // brings the state back to net_ and opt_ after each epoch, buffers_to_device() sends net_'s
  // buffers back (after a data-parallel run's broadcast). With cfg_.distributed, `seen`,
  // `loss_sum` and `correct` are this process's until the epoch's end sums them.
  template <class Model, class Opt, class ToHost, class BuffersToDevice>
  bool run_epochs(Model& model, Opt& opt, data::BatchLoader& train, data::BatchLoader* test, ToHost&& to_host,
                  BuffersToDevice&& buffers_to_device) {
    Distributed* const dist = cfg_.distributed;
    const bool progress = cfg_.progress && writer();
    for (int epoch = completed_ + 1; epoch <= cfg_.epochs; ++epoch) {
      const auto t0 = std::chrono::steady_clock::now();
      train.start_epoch(epoch);
      double loss_sum = 0;
      long correct = 0, seen = 0;
      const int nb = train.batches();
      for (int b = 0; b < nb; ++b) {
        bool stop = cfg_.stop && cfg_.stop->load();
        if (dist) stop = dist->any(stop);  // a signal to any process stops them all here
        if (stop) {
          if (progress) std::printf("\n");
          if (writer())
            std::printf("Stopped during epoch %d (batch %d of %d); the last complete epoch is %d.\n", epoch, b + 1, nb,
                        completed_);
          std::fflush(stdout);
          return false;
        }
        const auto batch = train.batch(b);
        // opt_ is the host optimiser; a device optimiser reads its options at every step.
        if (cfg_.schedule) opt_.set_lr(static_cast<float>(cfg_.schedule->lr(epoch - 1, opt_.steps())));
        const StepResult r = step(model, opt, batch, epoch, b);
        bool diverged = !std::isfinite(r.loss_sum);
        if (dist && dist->any(diverged) && !diverged)
          throw TrainingDiverged("training stopped: the loss became NaN or infinite on another process at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(b + 1) + " of " +
                                 std::to_string(nb) + " (try a smaller learning rate)");
        if (diverged)
          throw TrainingDiverged("training stopped: the loss became " +
                                 std::string(std::isnan(r.loss_sum) ? "NaN" : "infinite") + " at epoch " +
                                 std::to_string(epoch) + ", batch " + std::to_string(b + 1) + " of " +
                                 std::to_string(nb) + " (try a smaller learning rate)");
        seen += batch.size;
        loss_sum += r.loss_sum;
        correct += r.correct;
        if (progress && seen > 0) show_progress(epoch, b + 1, nb, loss_sum / seen, double(correct) / seen, seen, t0);
      }
      to_host();
      if (dist) {
        double sums[3] = {loss_sum, static_cast<double>(correct), static_cast<double>(seen)};
        dist->sum(sums);
        loss_sum = sums[0];
        correct = static_cast<long>(sums[1]);
        seen = static_cast<long>(sums[2]);
        // Batch-norm running statistics: rank 0's for all (see distributed.hpp), then every
        // process must hold the same model.
        dist->broadcast(net_.buffers());
        buffers_to_device();
        dist->check_same("the weights after epoch " + std::to_string(epoch), weights_hash());
      }
      EpochRecord rec;
      rec.epoch = epoch;
      rec.train_loss = loss_sum / seen;
      rec.train_accuracy = static_cast<double>(correct) / seen;
      rec.seconds = seconds_since(t0);
      rec.images_per_second = seen / rec.seconds;
      if (test && writer()) {
        with_averaged_weights([&] {
          last_eval_ = cfg_.tta ? evaluate_tta<Loss>(model, *test, *cfg_.tta) : evaluate<Loss>(model, *test);
        });
        rec.test_loss = last_eval_->loss;
        rec.test_accuracy = last_eval_->accuracy();
      }
      if (test && dist) {  // the others wait for rank 0's figures: the schedule and "best" need them
        double figures[2] = {rec.test_loss, rec.test_accuracy};
        dist->broadcast(figures);
        rec.test_loss = figures[0];
        rec.test_accuracy = figures[1];
      }
      if (cfg_.schedule) cfg_.schedule->end_epoch(plateau_metric(rec));
      rec.elapsed_seconds = (history_.empty() ? 0.0 : history_.back().elapsed_seconds) + seconds_since(t0);
      history_.push_back(rec);
      completed_ = epoch;
      if (progress) std::printf("\r\033[K");
      if (writer()) print_epoch(rec);
      if (budgeted() && !length_fixed_) fix_run_length(rec.elapsed_seconds, nb);
      write_outputs(rec);
      if (cfg_.on_epoch) cfg_.on_epoch(rec);
    }
    return true;
  }

  // One optimiser step on a batch: plain, or (CPU) mixed with mixup, then averaged into the EMA.
  // In a data-parallel run the step takes this process's share of the batch; an empty share
  // still takes part in the reduction and the update.
  template <class Model, class Opt>
  StepResult step(Model& model, Opt& opt, const data::Batch& batch, int epoch, int index) {
    StepOptions o = cfg_.step;
    StepResult r;
    if (Distributed* d = cfg_.distributed) {
      model.set_first_sample(batch.first);
      // d by value: it lives only in this if statement, the step calls the reducer after it.
      o.reduce_gradients = [d, &batch](std::span<float> g) { d->reduce_gradients(g, batch.size, batch.whole); };
    }
    if (batch.size == 0) {
      model.step_without_samples(opt, o);
    } else if constexpr (std::is_same_v<Model, Net>) {
      if (cfg_.mixup_alpha > 0.f) {
        constexpr int k = Net::classes;
        const std::size_t per = Net::input_shape::size;
        mixed_.assign(batch.images, batch.images + per * static_cast<std::size_t>(batch.size));
        targets_.resize(static_cast<std::size_t>(batch.size) * k);
        Rng rng = data::augment::batch_rng(cfg_.seed, epoch, static_cast<std::uint64_t>(index));
        data::augment::Mixup{cfg_.mixup_alpha, cfg_.step.label_smoothing}.apply(mixed_.data(), batch.labels,
                                                                              batch.size, per, k, targets_.data(), rng);
        r = model.template train_step_soft<Loss>(mixed_.data(), targets_.data(), batch.labels, batch.size, opt, o);
      } else {
        r = model.template train_step<Loss>(batch.images, batch.labels, batch.size, opt, o);
      }
    } else {
      r = model.template train_step<Loss>(batch.images, batch.labels, batch.size, opt, o);
    }
    if (ema_) ema_->update(net_);  // CPU only (the Trainer refuses EMA on a device)
    return r;
  }

  // Runs f with the averaged weights in net_ (when averaging), the training weights put back
  // after it.
  template <class F>
  void with_averaged_weights(F&& f) {
    if (!ema_) return f();
    const std::vector<float> params(net_.parameters().begin(), net_.parameters().end()),
        buffers(net_.buffers().begin(), net_.buffers().end());
    ema_->copy_to(net_);
    f();
    std::copy(params.begin(), params.end(), net_.parameters().begin());
    std::copy(buffers.begin(), buffers.end(), net_.buffers().begin());
  }

  bool budgeted() const { return cfg_.time_budget_seconds > 0; }

  // After the first epoch of a budgeted run: the epochs that fit (rank 0's clock decides for a
  // data-parallel run) and the schedule set to that length.
  void fix_run_length(double first_epoch_seconds, int batches) {
    double seconds[1] = {first_epoch_seconds};
    if (cfg_.distributed) cfg_.distributed->broadcast(seconds);
    const long shortest = cfg_.schedule ? cfg_.schedule->min_run_epochs() : 1;
    const int cap = cfg_.epochs;
    cfg_.epochs = epochs_for_budget(cfg_.time_budget_seconds, seconds[0],
                                    static_cast<int>(std::min<long>(shortest, cap)), cap);
    if (cfg_.schedule) cfg_.schedule->set_run_length(cfg_.epochs, batches);
    length_fixed_ = true;
    if (writer()) {
      std::printf("time budget %.3g min: epoch 1 took %.1f s, so the run trains %d epochs (%s%.3g min planned)\n",
                  cfg_.time_budget_seconds / 60, seconds[0], cfg_.epochs,
                  cfg_.epochs == cap ? "the most allowed; " : "", cfg_.epochs * seconds[0] / 60);
      std::fflush(stdout);
    }
  }
  // "15", or "?" while a budget has not fixed the count yet.
  std::string epochs_label() const { return budgeted() && !length_fixed_ ? "?" : std::to_string(cfg_.epochs); }

  // What ReduceLROnPlateau watches: the evaluation's loss or accuracy (its mode says which), the
  // training figures when there is no evaluation.
  double plateau_metric(const EpochRecord& r) const {
    const auto* p = std::get_if<ReduceLROnPlateau>(&cfg_.schedule->get());
    const bool accuracy = p && p->options().mode == ReduceLROnPlateau::Mode::max;
    if (std::isnan(r.test_loss)) return accuracy ? r.train_accuracy : r.train_loss;
    return accuracy ? r.test_accuracy : r.test_loss;
  }

  static double seconds_since(std::chrono::steady_clock::time_point t0) {
    return std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
  }

  void print_epoch(const EpochRecord& r) const {
    // The notebook's line, then what it did not report: time and throughput.
    if (std::isnan(r.test_accuracy))
      std::printf("Epoch: %d/%s.. Training Loss: %.3f.. Training Accuracy: %.3f.. Time: %.1fs (%.0f img/s)\n", r.epoch,
                  epochs_label().c_str(), r.train_loss, r.train_accuracy, r.seconds, r.images_per_second);
    else
      std::printf(
          "Epoch: %d/%s.. Training Loss: %.3f.. Test Loss: %.3f.. Test Accuracy: %.3f.. Time: %.1fs (%.0f img/s)\n",
          r.epoch, epochs_label().c_str(), r.train_loss, r.test_loss, r.test_accuracy, r.seconds, r.images_per_second);
    std::fflush(stdout);
  }

  void show_progress(int epoch, int b, int nb, double loss, double acc, long seen,
                     std::chrono::steady_clock::time_point t0) const {
    if (b % 5 != 0 && b != nb) return;
    const double s = seconds_since(t0);
    const double left = s / b * (nb - b);
    std::printf("\r\033[KEpoch %d/%s  batch %d/%d  loss %.3f  acc %.3f  %.0f img/s  %d:%02d left", epoch,
                epochs_label().c_str(), b, nb, loss, acc, seen / s, static_cast<int>(left) / 60, static_cast<int>(left) % 60);
    std::fflush(stdout);
  }

  Checkpoint make_resume_checkpoint() {
    Checkpoint c;
    with_averaged_weights([&] { c = make_checkpoint(net_, cfg_.model_name); });
    if (ema_) {
      c.set_section("training.parameters", net_.parameters());
      c.set_section("training.buffers", net_.buffers());
      c.meta["ema_updates"] = std::to_string(ema_->updates());
    }
    save_optimizer(c, opt_);
    c.meta["epoch"] = std::to_string(completed_);
    c.meta["noise_step"] = std::to_string(net_.noise_step());
    c.meta["seed"] = std::to_string(cfg_.seed);
    char best[32];
    std::snprintf(best, sizeof best, "%.17g", best_accuracy_);  // exact, so a resumed run compares alike
    c.meta["best_accuracy"] = best;
    c.meta["history"] = history_csv();
    if (cfg_.schedule) cfg_.schedule->save(c);
    if (budgeted() && length_fixed_) c.meta["budget_epochs"] = std::to_string(cfg_.epochs);
    for (const auto& [k, v] : cfg_.extra_meta) c.meta.emplace(k, v);
    return c;
  }

  void write_outputs(const EpochRecord& r) {
    const bool better = !std::isnan(r.test_accuracy) && r.test_accuracy > best_accuracy_;
    if (better) best_accuracy_ = r.test_accuracy;
    if (!writer()) return;
    if (!cfg_.history_csv.empty()) write_text_atomically(cfg_.history_csv, history_csv());
    if (cfg_.last_checkpoint.empty() && (cfg_.best_checkpoint.empty() || !better)) return;
    const Checkpoint c = make_resume_checkpoint();
    // The best model first: last.fernet records the best accuracy so far, and a run stopped
    // between the two writes must find that model in best_checkpoint when it resumes.
    for (const std::string* path : {better ? &cfg_.best_checkpoint : nullptr, &cfg_.last_checkpoint}) {
      if (!path || path->empty()) continue;
      c.save(*path);
      if (cfg_.after_checkpoint_write) cfg_.after_checkpoint_write(*path);
    }
  }

  Net& net_;
  Optimizer& opt_;
  TrainConfig cfg_;
  std::vector<EpochRecord> history_;
  std::optional<Evaluation> last_eval_;
  std::optional<WeightAverage> ema_;
  std::vector<float> mixed_, targets_;  // mixup's batch and soft targets
  int completed_ = 0;
  double best_accuracy_ = -1;
  bool length_fixed_ = false;  // a budgeted run's epoch count is known (after its first epoch)
};

}  // namespace fernet
