// fernet eval --load FILE [--data FILE] [--split NAME] [--tta VIEWS] [--json]: accuracy, per-class
// precision/recall/F1 and the confusion matrix of a checkpoint on one split.
#include <cstdio>
#include <filesystem>
#include <iostream>
#include <memory>
#include <string>

#include <nlohmann/json.hpp>

#include <fernet/data/fer2013.hpp>
#include <fernet/data/fer2013_source.hpp>
#include <fernet/parallel.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "models.hpp"
#include "report.hpp"

namespace fs = std::filesystem;
using json = nlohmann::ordered_json;

namespace fernet::app {

namespace {

struct EvalArgs {
  std::string load, data, split = "PublicTest", model, device = "cpu";
  std::string tta;  // when given (o_tta): instead of the views the checkpoint was evaluated with
  CLI::Option* o_tta = nullptr;
  int batch = 500, threads = 0;
  bool json_out = false, half_weights = false;
};

// --data, or the built-in synthetic faces for a checkpoint trained on them. A path stored in
// the checkpoint is never opened: a checkpoint is a file from anywhere, and opening what it
// names would let it make eval read (and quote in its errors) any file the user can read.
std::string data_for(const std::string& given, const Checkpoint& c, const std::string& source) {
  if (!given.empty()) return given;
  const std::string trained = c.get("data");
  if (trained == "synthetic") return {};
  throw UsageError("--data FILE is required: " + source + " was trained on " +
                   (trained.empty() ? std::string("unrecorded data") : "'" + trained + "'") +
                   " and fernet does not open a file named inside a checkpoint");
}

int cmd_eval(const EvalArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  const auto backend = open_backend(a.device);
  if (a.half_weights && backend)
    throw UsageError("--half-weights is for inference on the CPU; drop it or --device " + a.device);
  if (a.batch < 1) throw UsageError("--batch must be at least 1 (got " + std::to_string(a.batch) + ")");
  const data::Split split = parse_split_or_throw(a.split);
  if (!a.data.empty()) require_input_file(a.data, "data file");
  const Checkpoint c = load_checkpoint(a.load);
  const ModelInfo& m = model_for_checkpoint(c, a.load, a.model);
  std::string description;
  const data::Fer2013 all = load_data(data_for(a.data, c, a.load), description);
  const data::Fer2013 subset = all.split(split);
  if (subset.size() == 0)
    throw std::runtime_error(description + " has no " + a.split + " rows (" + data::split_counts(all) +
                             "); choose another --split");
  const std::string tta = a.o_tta->count() ? a.tta : c.get("tta");
  const Evaluation ev = m.evaluate(c, a.load, subset, a.batch, checkpoint_preprocess(c, m, a.load), backend.get(), tta,
                                    a.half_weights);
  if (a.json_out) {
    json j = metrics_json(ev.confusion);
    j["model"] = m.name;
    j["checkpoint"] = a.load;
    j["epoch"] = fernet::detail::checkpoint_integer(c, "epoch", 0, 0, 1000000, a.load);
    j["data"] = description;
    j["split"] = a.split;
    j["loss"] = number(ev.loss);
    j["tta"] = tta.empty() ? "none" : tta;
    j["linear_weights"] = a.half_weights ? "half" : "float32";
    j["weights_checksum"] = weights_checksum(c);
    std::cout << j.dump(2) << "\n";
  } else {
    std::printf("%s (%s, epoch %lld) on %s, %s: %zu images, test-time views %s%s\n", printable(a.load).c_str(),
                m.name.c_str(), fernet::detail::checkpoint_integer(c, "epoch", 0, 0, 1000000, a.load),
                printable(description).c_str(), a.split.c_str(), subset.size(), tta.empty() ? "none" : tta.c_str(),
                a.half_weights ? ", linear weights as halves" : "");
    std::printf("%s accuracy: %.4f (%ld of %ld), loss %.4f\n\n", a.split.c_str(), ev.accuracy(), ev.confusion.correct(),
                ev.confusion.total(), ev.loss);
    std::printf("%s", ev.confusion.report([](int k) { return data::emotion_name(k); }).c_str());
  }
  return 0;
}

}  // namespace

Command add_eval_command(CLI::App& app) {
  auto a = std::make_shared<EvalArgs>();
  auto* eval =
      app.add_subcommand("eval", "Evaluate a checkpoint: accuracy, per-class precision/recall/F1, confusion matrix");
  eval->add_option("--load", a->load, "checkpoint, e.g. DIR/model.fernet")->required();
  eval->add_option("--data", a->data, "FER2013 CSV (plain or .gz); required unless the model was trained on synthetic faces");
  eval->add_option("--split", a->split, "Training, PublicTest or PrivateTest")->capture_default_str();
  eval->add_option("--model", a->model, "expect this network (refuses a checkpoint of another)");
  eval->add_option("--batch", a->batch, "images per forward pass")->capture_default_str();
  eval->add_option("--threads", a->threads, "CPU threads (default: all cores)");
  eval->add_option("--device", a->device, "where to evaluate: cpu, cuda, cuda:N, or emulated")->capture_default_str();
  a->o_tta = eval->add_option("--tta", a->tta,
                   "test-time views: none, center:SIZE, mirrored:SIZE or ten-crop:SIZE (default: the checkpoint's)");
  eval->add_flag("--json", a->json_out, "print the results as JSON");
  eval->add_flag("--half-weights", a->half_weights, half_weights_help);
  return {eval, [a] { return cmd_eval(*a); }};
}

}  // namespace fernet::app
