#pragma once
// The one generic implementation of the registry's operations for a network type: training goes
// through fernet::train_from_recipe (the same run as the examples), evaluation through
// fernet::evaluate, probabilities through fernet::probabilities. Included only by the
// model_*.cpp files.
#include <algorithm>
#include <memory>
#include <stdexcept>
#include <string>

#include <fernet/data/fer2013_dataset.hpp>
#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>
#include <fernet/onnx/export.hpp>
#include <fernet/onnx/import.hpp>
#include <fernet/probabilities.hpp>
#include <fernet/safetensors.hpp>
#include <fernet/summary.hpp>
#include <fernet/train/options_text.hpp>
#include <fernet/train/run.hpp>
#include <fernet/train/trainer.hpp>

#include "models.hpp"

namespace fernet::app {

template <class Net, class Loss, class Optimizer>
RunResult train_network(const ModelInfo& m, const TrainJob& job) {
  const RunSettings& s = job.settings;
  TrainingRun<Optimizer> run;  // the notebook used no SGD momentum: the options' defaults unless the recipe says
  run.config.model_name = m.name;
  run.config.epochs = s.epochs;
  run.config.time_budget_seconds = s.time_budget_minutes * 60;
  run.config.seed = s.seed;
  run.config.history_csv = job.out_dir + "/history.csv";
  run.config.last_checkpoint = job.out_dir + "/last.fernet";
  run.config.best_checkpoint = job.out_dir + "/model.fernet";
  run.config.stop = job.stop;
  run.config.extra_meta = job.extra_meta;
  run.config.backend = job.backend;
  run.config.distributed = job.distributed;
  run.network = m.network;
  run.notebook = m.notebook;
  run.batch = s.batch;
  run.optimizer.lr = static_cast<float>(s.lr);
  if constexpr (std::is_same_v<Optimizer, SGD>) {
    run.optimizer.momentum = m.momentum;
    run.optimizer.weight_decay = m.weight_decay;
    run.optimizer.nesterov = m.nesterov;
  }
  run.preprocess = job.preprocess;
  run.augment = s.augment;
  run.schedule = s.schedule;
  run.tta = s.tta;
  run.config.step.label_smoothing = static_cast<float>(s.label_smoothing);
  run.config.step.max_grad_norm = static_cast<float>(s.clip_grad_norm);
  run.config.mixup_alpha = static_cast<float>(s.mixup);
  if (s.ema > 0) run.config.ema = WeightAverage::Options{.decay = static_cast<float>(s.ema), .warmup = true};
  run.init = s.init;
  run.resume = job.resume;
  run.notes = {"output: " + job.out_dir};
  return train_from_recipe<Net, Loss>(run, job.data);
}

template <class Net, class Loss>
Evaluation evaluate_network(const ModelInfo& m, const Checkpoint& c, const std::string& source, data::LabelledImages d,
                            int batch, data::Preprocess pre, device::Backend* backend, const std::string& tta,
                            bool half_weights) {
  auto net = std::make_unique<Net>(0);
  restore_checkpoint(*net, c, source, m.name);  // first: another network's checkpoint names both
  net->use_half_linear_weights(half_weights);
  data::BatchLoader loader(d, batch, pre, false, 0);
  const std::optional<tta::Options> views = options_text::parse_tta(tta);
  if (!views) check_input_size<Net>(loader, m.name);
  if (backend) {
    device::DeviceModel<Net> dev(*backend, *net);
    return views ? evaluate_tta<Loss>(dev, loader, *views) : fernet::evaluate<Loss>(dev, loader);
  }
  return views ? evaluate_tta<Loss>(*net, loader, *views) : fernet::evaluate<Loss>(*net, loader);
}

template <class Net>
Predictions predict_network(const ModelInfo& m, const Checkpoint& c, const std::string& source,
                            const std::vector<float>& images, int n, bool half_weights) {
  using In = typename Net::input_shape;
  constexpr std::size_t in = In::size;
  constexpr int k = static_cast<int>(Net::output_shape::size);
  auto net = std::make_unique<Net>(0);
  restore_checkpoint(*net, c, source, m.name);  // first: another network's checkpoint names both
  // Images of the network's size go in as they are; 48x48 faces for a network of crops go in as
  // the checkpoint's test-time views (the centre crop when it names none), outputs averaged.
  const tta::Shape full{In::channels, 48, 48};
  const bool crops = in != full.size();
  const std::size_t per = crops ? full.size() : in;
  if (images.size() != static_cast<std::size_t>(n) * per)
    throw std::runtime_error("network '" + m.name + "' takes " + std::to_string(per) + " values per image, got " +
                             std::to_string(n ? images.size() / n : 0));
  tta::Options views{In::height, In::width, tta::Views::center};
  if (crops)
    if (const auto o = options_text::parse_tta(c.get("tta"))) views = *o;
  const int v = tta::view_count(views.views);
  net->eval();
  net->use_half_linear_weights(half_weights);
  Predictions out;
  out.classes = k;
  out.probabilities.resize(static_cast<std::size_t>(n) * k);
  std::vector<float> crop_images, mean;
  constexpr int chunk = 256;
  for (int b = 0; b < n; b += chunk) {
    const int nb = std::min(chunk, n - b);
    const float* x = images.data() + static_cast<std::size_t>(b) * per;
    const float* y = nullptr;
    if (crops) {
      crop_images.resize(static_cast<std::size_t>(nb) * v * in);
      tta::make_views(views.views, x, nb, full, views.crop_height, views.crop_width, crop_images.data());
      mean.resize(static_cast<std::size_t>(nb) * k);
      tta::average_views(net->infer(crop_images.data(), nb * v), nb, v, k, mean.data());
      y = mean.data();
    } else {
      y = net->infer(x, nb);
    }
    probabilities<Net>(y, nb, out.probabilities.data() + static_cast<std::size_t>(b) * k);
  }
  return out;
}

// The checkpoint's network as ONNX, its preprocessing and the class names in the graph.
template <class Net>
void export_network(const ModelInfo& m, const Checkpoint& c, const std::string& source, const data::Preprocess& pre,
                    const std::string& out) {
  auto net = std::make_unique<Net>(0);
  restore_checkpoint(*net, c, source, m.name);  // first: another network's checkpoint names both
  onnx::ExportOptions opt;
  opt.model_name = m.network;
  opt.preprocessing = onnx::Preprocessing{pre.scale, pre.offset};
  if (Net::classes == data::num_classes)
    for (int k = 0; k < data::num_classes; ++k) opt.class_names.emplace_back(data::emotion_name(k));
  opt.metadata = {{"fernet.model", m.name}, {"fernet.preprocess", c.get("preprocess", m.preprocess_name)}};
  // Histogram equalisation has no standard ONNX operator: the graph's input is then the
  // equalised image, and the metadata says so.
  if (pre.equalize)
    opt.metadata.emplace_back("fernet.preprocess.equalize",
                              "1: histogram-equalise the grey image (OpenCV equalizeHist) before this graph");
  onnx::export_model(*net, out, opt);
}

// The checkpoint's weights under PyTorch's names; its model and preprocessing in the metadata.
template <class Net>
void export_weights(const ModelInfo& m, const Checkpoint& c, const std::string& source, const std::string& out) {
  auto net = std::make_unique<Net>(0);
  restore_checkpoint(*net, c, source, m.name);  // first: another network's checkpoint names both
  std::map<std::string, std::string> meta = {{"fernet.model", m.name}, {"fernet.network", Net::signature()}};
  for (const auto& [key, value] : c.meta)
    if (key.starts_with("preprocess")) meta["fernet." + key] = value;
  save_safetensors(*net, out, meta);
}

// A checkpoint from weights with PyTorch's names (safetensors) or from an ONNX model's.
template <class Net>
Checkpoint import_weights(const ModelInfo& m, const std::string& path, bool onnx_file) {
  auto net = std::make_unique<Net>(0);
  if (onnx_file) onnx::load_onnx(*net, path);
  else load_safetensors(*net, path);
  Checkpoint c = make_checkpoint(*net, m.name);
  c.meta["preprocess"] = m.preprocess_name;
  store_preprocess(c.meta, m.preprocess);
  c.meta["imported_from"] = path;
  return c;
}

template <class Net, class Loss, class Optimizer>
ModelInfo make_model(ModelInfo m) {
  m.loss = loss_name<Loss>();
  m.optimizer = optimizer_name<Optimizer>({});
  m.parameters = Net::parameter_count;
  m.signature = [] { return Net::signature(); };
  m.summary = [] { return fernet::summary<Net>().to_string(); };
  // The lambdas copy the descriptive part of m (not the functions, which are set below).
  const ModelInfo plain = m;
  m.train = [plain](const TrainJob& job) { return train_network<Net, Loss, Optimizer>(plain, job); };
  m.evaluate = [plain](const Checkpoint& c, const std::string& src, data::LabelledImages d, int batch,
                       data::Preprocess pre, device::Backend* backend, const std::string& tta, bool half_weights) {
    return evaluate_network<Net, Loss>(plain, c, src, d, batch, pre, backend, tta, half_weights);
  };
  m.predict = [plain](const Checkpoint& c, const std::string& src, const std::vector<float>& images, int n,
                      bool half_weights) { return predict_network<Net>(plain, c, src, images, n, half_weights); };
  m.export_onnx = [plain](const Checkpoint& c, const std::string& src, const data::Preprocess& pre,
                          const std::string& out) { export_network<Net>(plain, c, src, pre, out); };
  m.export_safetensors = [plain](const Checkpoint& c, const std::string& src, const std::string& out) {
    export_weights<Net>(plain, c, src, out);
  };
  m.import_safetensors = [plain](const std::string& path) { return import_weights<Net>(plain, path, false); };
  m.import_onnx = [plain](const std::string& path) { return import_weights<Net>(plain, path, true); };
  return m;
}

}  // namespace fernet::app
