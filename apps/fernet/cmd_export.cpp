// fernet export --load FILE --out FILE.onnx [--model NAME]: the checkpoint's network as an ONNX
// model (opset 13) that takes raw 0..255 grey pixels, N x 1 x 48 x 48: the checkpoint's input
// preprocessing is part of the graph, the class names are in its metadata.
#include <cstdio>
#include <memory>
#include <string>

#include "cli_common.hpp"
#include "commands.hpp"
#include "models.hpp"

namespace fernet::app {

namespace {

struct ExportArgs {
  std::string load, out, model;
};

int cmd_export(const ExportArgs& a) {
  const Checkpoint c = load_checkpoint(a.load);
  const ModelInfo& m = model_for_checkpoint(c, a.load, a.model);
  m.export_onnx(c, a.load, checkpoint_preprocess(c, m, a.load), a.out);
  std::printf("wrote %s: %s as ONNX (opset 13); input 'input' = raw grey pixels, N x 1 x 48 x 48\n", a.out.c_str(),
              m.name.c_str());
  return 0;
}

}  // namespace

Command add_export_command(CLI::App& app) {
  auto a = std::make_shared<ExportArgs>();
  auto* sub = app.add_subcommand("export", "Write a checkpoint's network as an ONNX model (preprocessing included)");
  sub->add_option("--load", a->load, "the checkpoint (model.fernet)")->required();
  sub->add_option("--out", a->out, "the ONNX file to write (written atomically)")->required();
  sub->add_option("--model", a->model, "refuse a checkpoint of another network (default: the checkpoint's own)");
  return {sub, [a] { return cmd_export(*a); }};
}

}  // namespace fernet::app
