// fernet export --load FILE --out FILE [--format onnx|safetensors] [--model NAME]:
//   onnx (default): the checkpoint's network as an ONNX model (opset 13) that takes raw 0..255
//   grey pixels, N x 1 x 48 x 48: the checkpoint's input preprocessing is part of the graph, the
//   class names are in its metadata.
//   safetensors: the weights under PyTorch's parameter names (conv1.weight, layer1.0.bn1.running_mean,
//   ...), loadable into the equivalent PyTorch module with load_state_dict.
// fernet import --model NAME --out FILE.fernet WEIGHTS.safetensors|MODEL.onnx: the reverse, a
// checkpoint (the model's default preprocessing) from weights with PyTorch's names, e.g. a
// PyTorch state_dict saved with safetensors, or from an ONNX model of the same network (fernet's
// export, or PyTorch's torch.onnx.export; onnx/import.hpp matches its layers in order).
#include <cstdio>
#include <memory>
#include <string>

#include <fernet/version.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "models.hpp"

namespace fernet::app {

namespace {

struct ExportArgs {
  std::string load, out, model, format;
};

// --format, or the output's extension when --format is not given.
std::string export_format(const ExportArgs& a) {
  if (!a.format.empty()) return a.format;
  return a.out.ends_with(".safetensors") ? "safetensors" : "onnx";
}

int cmd_export(const ExportArgs& a) {
  const std::string format = export_format(a);
  const Checkpoint c = load_checkpoint(a.load);
  const ModelInfo& m = model_for_checkpoint(c, a.load, a.model);
  if (format == "safetensors") {
    m.export_safetensors(c, a.load, a.out);
    std::printf("wrote %s: %s's weights with PyTorch's parameter names (safetensors, float32)\n", a.out.c_str(),
                m.name.c_str());
    return 0;
  }
  m.export_onnx(c, a.load, checkpoint_preprocess(c, m, a.load), a.out);
  std::printf("wrote %s: %s as ONNX (opset 13); input 'input' = raw grey pixels, N x 1 x 48 x 48\n", a.out.c_str(),
              m.name.c_str());
  return 0;
}

struct ImportArgs {
  std::string weights, out, model, format;
};

int cmd_import(const ImportArgs& a) {
  const ModelInfo* m = find_model(a.model);
  if (!m) throw UsageError("--model " + a.model + ": no such model; the models are " + model_names());
  const std::string format = !a.format.empty() ? a.format : a.weights.ends_with(".onnx") ? "onnx" : "safetensors";
  Checkpoint c = format == "onnx" ? m->import_onnx(a.weights) : m->import_safetensors(a.weights);
  c.meta["fernet_version"] = version_string;
  c.save(a.out);
  std::printf("wrote %s: %s with the weights of %s\n", a.out.c_str(), m->name.c_str(), a.weights.c_str());
  return 0;
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* sub = app.add_subcommand("export",
                                 "Write a checkpoint's network as an ONNX model (preprocessing included) or its "
                                 "weights as safetensors with PyTorch's names");
  sub->add_option("--load", a->load, "the checkpoint (model.fernet)")->required();
  sub->add_option("--out", a->out, "the file to write (written atomically)")->required();
  sub->add_option("--format", a->format,
                  "onnx or safetensors (default: safetensors for a .safetensors file, else onnx)")
      ->check(CLI::IsMember({"onnx", "safetensors"}));
  sub->add_option("--model", a->model, "refuse a checkpoint of another network (default: the checkpoint's own)");
  return {sub, [a] { return cmd_export(*a); }};
}

Command add_import_command(CLI::App& app) {
  auto a = std::make_shared<ImportArgs>();
  auto* sub = app.add_subcommand(
      "import", "Make a checkpoint from weights with PyTorch's names (safetensors) or from an ONNX model");
  sub->add_option("weights", a->weights,
                  "the .safetensors file (fernet export's, or a PyTorch state_dict's) or .onnx model (fernet "
                  "export's, or torch.onnx.export's of the same network)")
      ->required();
  sub->add_option("--format", a->format, "onnx or safetensors (default: onnx for a .onnx file, else safetensors)")
      ->check(CLI::IsMember({"onnx", "safetensors"}));
  sub->add_option("--model", a->model, "the network the weights are for (fernet info lists them)")->required();
  sub->add_option("--out", a->out, "the checkpoint to write (model.fernet; written atomically)")->required();
  return {sub, [a] { return cmd_import(*a); }};
}

}  // namespace fernet::app
