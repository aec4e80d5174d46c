#pragma once
// The fernet program's model registry: each notebook network by its command-line name, with the
// notebook's defaults (train/recipes.hpp, the same values as examples/*.cpp) and type-erased
// operations, so that the commands (cmd_*.cpp) never name a network type. Every network is
// compiled in its own translation unit (model_*.cpp), which keeps rebuilds parallel.
#include <atomic>
#include <cstdint>
#include <functional>
#include <map>
#include <string>
#include <vector>

#include <fernet/checkpoint.hpp>
#include <fernet/data/batches.hpp>
#include <fernet/data/labelled_images.hpp>
#include <fernet/loss.hpp>
#include <fernet/train/recipes.hpp>
#include <fernet/train/run.hpp>
#include <fernet/train/trainer.hpp>

#include "run_settings.hpp"

namespace fernet::app {

struct TrainJob {
  RunSettings settings;
  RunData data;         // training and evaluation images, described for the banner
  std::string out_dir;  // receives history.csv, last.fernet and model.fernet
  bool resume = false;
  const std::atomic<bool>* stop = nullptr;
  device::Backend* backend = nullptr;             // null: train on the CPU
  Distributed* distributed = nullptr;             // data-parallel processes (mpirun); null: alone
  std::map<std::string, std::string> extra_meta;  // added to every checkpoint the run writes
  data::Preprocess preprocess;                    // the model's, or centred with --normalize
};

// Class probabilities of n images, n x classes; the class count is the network's.
struct Predictions {
  int classes = 0;
  std::vector<float> probabilities;
  std::size_t size() const { return classes ? probabilities.size() / classes : 0; }
  const float* row(std::size_t i) const { return probabilities.data() + i * classes; }
  int predicted(std::size_t i) const { return argmax_row(row(i), classes); }
};

struct ModelInfo {
  std::string name;     // command-line name, also the checkpoint's "model"
  std::string network;  // type in fernet::networks
  std::string loss, optimizer;
  std::string notebook;  // what the notebook reached
  int epochs = 0, batch = 0;
  double lr = 0;
  std::uint64_t seed = 0;
  data::Preprocess preprocess;
  std::string preprocess_name;
  std::size_t parameters = 0;
  // The recipe's accuracy options (train/recipes.hpp; empty or 0 for the notebook's).
  std::string augment, schedule, tta;
  double label_smoothing = 0;
  float momentum = 0, weight_decay = 0;
  bool nesterov = false;
  const Recipe* recipe = nullptr;  // the whole recipe (its time budget among the rest)

  std::function<std::string()> signature;
  // The Keras-style table of the network's layers (fernet::summary).
  std::function<std::string()> summary;
  // Loads the checkpoint into this network and writes it as ONNX to `out`, with the given
  // preprocessing as graph nodes (the graph then takes raw 0..255 grey pixels).
  std::function<void(const Checkpoint&, const std::string& source, const data::Preprocess&, const std::string& out)>
      export_onnx;
  // The checkpoint's weights under PyTorch's parameter names, as safetensors (fernet/safetensors.hpp).
  std::function<void(const Checkpoint&, const std::string& source, const std::string& out)> export_safetensors;
  // A checkpoint of this network (default preprocessing) from a safetensors file with PyTorch's names.
  std::function<Checkpoint(const std::string& path)> import_safetensors;
  std::function<Checkpoint(const std::string& path)> import_onnx;  // the weights of an ONNX model
  // Trains through fernet::train_from_recipe; model.fernet evaluated again is RunResult::best.
  std::function<RunResult(const TrainJob&)> train;
  // Loads the checkpoint into this network (the error names both when it is another network's)
  // and evaluates it (on the backend when one is given, else on the CPU), with the test-time views
  // `tta` (options_text.hpp's form; empty: the images as they are). half_weights: the CPU
  // network reads its linear weights as halves (Sequential::use_half_linear_weights).
  std::function<Evaluation(const Checkpoint&, const std::string& source, data::LabelledImages, int batch,
                           data::Preprocess, device::Backend*, const std::string& tta, bool half_weights)>
      evaluate;
  // Class probabilities of n preprocessed 48x48 images; a network for smaller crops sees the
  // checkpoint's test-time views of them ("tta", else the centre crop), averaged.
  std::function<Predictions(const Checkpoint&, const std::string& source, const std::vector<float>& images, int n,
                            bool half_weights)>
      predict;
};

// The descriptive part of a model from its notebook recipe.
inline ModelInfo from_recipe(const Recipe& r) {
  ModelInfo m;
  m.name = r.name;
  m.network = r.network;
  m.notebook = r.notebook;
  m.epochs = r.epochs;
  m.batch = r.batch;
  m.lr = r.lr;
  m.seed = r.seed;
  m.preprocess = r.preprocess;
  m.preprocess_name = r.preprocess_name;
  m.augment = r.augment;
  m.schedule = r.schedule;
  m.tta = r.tta;
  m.label_smoothing = r.label_smoothing;
  m.momentum = r.momentum;
  m.weight_decay = r.weight_decay;
  m.nesterov = r.nesterov;
  m.recipe = &r;
  return m;
}

const std::vector<ModelInfo>& models();
const ModelInfo* find_model(const std::string& name);
std::string model_names(const char* separator = ", ");
void validate(const RunSettings& s);  // validate_values (run_settings.hpp), a known model, the accuracy options
// The run's input preprocessing: the model's, or zero-centred with --normalize (same channels).
data::Preprocess run_preprocess(const RunSettings& s, const ModelInfo& m);

// The network a checkpoint holds: `wanted` when given (restore then refuses another network's
// checkpoint), else by the checkpoint's "model" name, else by its signature.
const ModelInfo& model_for_checkpoint(const Checkpoint& c, const std::string& source, const std::string& wanted);

// Preprocessing recorded in the checkpoint, or the model's default.
data::Preprocess checkpoint_preprocess(const Checkpoint& c, const ModelInfo& m, const std::string& source);
void store_preprocess(std::map<std::string, std::string>& meta, const data::Preprocess& p);

// Per-network factories, one per translation unit.
ModelInfo make_linear_mlp();
ModelInfo make_cnn_adam();
ModelInfo make_cnn_sgd();
ModelInfo make_tf_cnn();
ModelInfo make_resnet18();
ModelInfo make_resnet50();
ModelInfo make_resnet152();
ModelInfo make_vgg_fast();
ModelInfo make_vgg_best();

}  // namespace fernet::app
