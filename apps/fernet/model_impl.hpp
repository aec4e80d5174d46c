#pragma once
// The one generic implementation of the registry's operations for a network type: training goes
// through fernet::Trainer (the same loop as the examples), evaluation through fernet::evaluate.
// Included only by the model_*.cpp files.
#include <algorithm>
#include <cmath>
#include <filesystem>
#include <memory>
#include <stdexcept>

#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>
#include <fernet/train/trainer.hpp>

#include "models.hpp"

namespace fernet::app {

enum class Optim { Adam, SGD };

template <Optim O, class Net>
auto make_optimizer(Net& net, double lr) {
  if constexpr (O == Optim::Adam)
    return Adam(net, {.lr = static_cast<float>(lr)});
  else
    return SGD(net, {.lr = static_cast<float>(lr)});  // the notebook used no momentum
}

template <class Net>
void check_preprocess(const ModelInfo& m, const data::Preprocess& pre) {
  if (static_cast<std::size_t>(pre.channels) * data::image_pixels != Net::input_shape::size)
    throw std::runtime_error("network '" + m.name + "' takes " + std::to_string(Net::input_shape::size / data::image_pixels) +
                             " input channels, but the preprocessing gives " + std::to_string(pre.channels));
}

template <class Net, class Loss, Optim O>
TrainResult train_network(const ModelInfo& m, const TrainJob& job) {
  const RunSettings& s = job.settings;
  check_preprocess<Net>(m, m.preprocess);
  auto net = std::make_unique<Net>(s.seed);
  auto opt = make_optimizer<O>(*net, s.lr);
  data::BatchLoader train(*job.train, s.batch, m.preprocess, true, s.seed);
  data::BatchLoader eval(*job.eval, std::max(s.batch, 500), m.preprocess, false, s.seed);

  const std::string dir = job.out_dir;
  const std::string last = dir + "/last.fernet", best = dir + "/model.fernet";
  TrainConfig cfg;
  cfg.model_name = m.name;
  cfg.epochs = s.epochs;
  cfg.seed = s.seed;
  cfg.history_csv = dir + "/history.csv";
  cfg.last_checkpoint = last;
  cfg.best_checkpoint = best;
  cfg.stop = job.stop;
  cfg.extra_meta = job.extra_meta;
  cfg.backend = job.backend;
  Trainer<Loss, Net, decltype(opt)> trainer(*net, opt, cfg);

  TrainResult res;
  if (job.resume) {
    trainer.resume(last);
    res.resumed_from = trainer.completed_epochs();
  } else if (!s.init.empty()) {
    restore_checkpoint(*net, Checkpoint::load(s.init), s.init, m.name);
  }
  res.completed = trainer.fit(train, &eval);
  res.completed_epochs = trainer.completed_epochs();
  res.history = trainer.history();
  res.best_accuracy = trainer.best_accuracy();
  if (res.completed && std::filesystem::exists(best)) {
    auto best_net = std::make_unique<Net>(s.seed);
    restore_checkpoint(*best_net, Checkpoint::load(best), best, m.name);
    res.best = fernet::evaluate<Loss>(*best_net, eval);
  }
  return res;
}

template <class Net, class Loss>
Evaluation evaluate_network(const ModelInfo& m, const Checkpoint& c, const std::string& source,
                            const data::Fer2013& d, int batch, data::Preprocess pre, device::Backend* backend) {
  auto net = std::make_unique<Net>(0);
  restore_checkpoint(*net, c, source, m.name);  // first: another network's checkpoint names both
  check_preprocess<Net>(m, pre);
  data::BatchLoader loader(d, batch, pre, false, 0);
  if (backend) {
    device::DeviceModel<Net> dev(*backend, *net);
    return fernet::evaluate<Loss>(dev, loader);
  }
  return fernet::evaluate<Loss>(*net, loader);
}

template <class Net>
std::vector<std::array<float, 7>> predict_network(const ModelInfo& m, const Checkpoint& c, const std::string& source,
                                                  const std::vector<float>& images, int n) {
  constexpr std::size_t in = Net::input_shape::size;
  constexpr int k = static_cast<int>(Net::output_shape::size);
  static_assert(k == 7, "the notebook networks answer 7 emotions");
  auto net = std::make_unique<Net>(0);
  restore_checkpoint(*net, c, source, m.name);  // first: another network's checkpoint names both
  if (images.size() != static_cast<std::size_t>(n) * in)
    throw std::runtime_error("network '" + m.name + "' takes " + std::to_string(in) + " values per image, got " +
                             std::to_string(n ? images.size() / n : 0));
  net->eval();
  std::vector<std::array<float, 7>> out(static_cast<std::size_t>(n));
  constexpr int chunk = 256;
  for (int b = 0; b < n; b += chunk) {
    const int nb = std::min(chunk, n - b);
    const float* y = net->forward(images.data() + static_cast<std::size_t>(b) * in, nb);
    for (int i = 0; i < nb; ++i) {
      // Softmax of logits, or of log-probabilities (which gives the probabilities back).
      const float* row = y + static_cast<std::size_t>(i) * k;
      const float mx = *std::max_element(row, row + k);
      double sum = 0;
      for (int j = 0; j < k; ++j) sum += std::exp(static_cast<double>(row[j] - mx));
      for (int j = 0; j < k; ++j) out[b + i][j] = static_cast<float>(std::exp(static_cast<double>(row[j] - mx)) / sum);
    }
  }
  return out;
}

template <class Net, class Loss, Optim O>
ModelInfo make_model(ModelInfo m) {
  m.loss = std::is_same_v<Loss, NLLLoss> ? "NLLLoss" : "CrossEntropyLoss";
  m.optimizer = O == Optim::Adam ? "Adam" : "SGD";
  m.parameters = Net::parameter_count;
  m.signature = [] { return Net::signature(); };
  // The lambdas copy the descriptive part of m (not the functions, which are set below).
  const ModelInfo plain = m;
  m.train = [plain](const TrainJob& job) { return train_network<Net, Loss, O>(plain, job); };
  m.evaluate = [plain](const Checkpoint& c, const std::string& src, const data::Fer2013& d, int batch,
                       data::Preprocess pre, device::Backend* backend) {
    return evaluate_network<Net, Loss>(plain, c, src, d, batch, pre, backend);
  };
  m.predict = [plain](const Checkpoint& c, const std::string& src, const std::vector<float>& images, int n) {
    return predict_network<Net>(plain, c, src, images, n);
  };
  return m;
}

}  // namespace fernet::app
