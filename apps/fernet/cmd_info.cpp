// fernet info [--checkpoint FILE | --model NAME --summary]: version, SIMD architecture, threads, CUDA, the default data
// file and the models with their notebook defaults; or a checkpoint's metadata and checksum.
#include <cstdio>
#include <memory>
#include <string>
#include <thread>

#include <fernet/data/fer2013_file.hpp>
#include <fernet/device/select.hpp>
#include <fernet/kernels/kernel_set.hpp>
#include <fernet/parallel.hpp>
#include <fernet/simd.hpp>
#include <fernet/version.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "models.hpp"
#include "report.hpp"

namespace fernet::app {

namespace {

struct InfoArgs {
  std::string checkpoint, model;
  bool summary = false;
  int threads = 0;
};

int cmd_info(const InfoArgs& a) {
  if (a.threads > 0) set_threads(a.threads);
  if (a.summary) {
    if (a.model.empty()) throw UsageError("--summary needs --model NAME (one of: " + model_names() + ")");
    const ModelInfo* m = find_model(a.model);
    if (!m) throw UsageError("unknown model '" + a.model + "'; choose one of: " + model_names());
    std::printf("%s (%s)\n%s", m->name.c_str(), m->network.c_str(), m->summary().c_str());
    return 0;
  }
  if (!a.model.empty()) throw UsageError("--model is for --summary");
  if (!a.checkpoint.empty()) {
    const Checkpoint c = load_checkpoint(a.checkpoint);
    std::printf("checkpoint: %s\n", a.checkpoint.c_str());
    for (const char* key : {"model", "parameter_count", "epoch", "best_accuracy", "optimizer", "optimizer_steps",
                            "seed", "preprocess", "data", "eval_split", "fernet_version", "shapes"})
      if (!c.get(key).empty()) std::printf("%s: %s\n", key, printable(c.get(key)).c_str());
    std::printf("weights checksum: %s\n", weights_checksum(c).c_str());
    return 0;
  }
  std::printf("fernet %s\n", version_string);
#ifdef FERNET_KERNEL_DISPATCH
  // A FERNET_DISPATCH build: xsimd's architecture is that of the program's own code, the
  // baseline; the hot kernels run with the set on the next line.
  const char* simd_scope = "; the program outside the kernel set";
#else
  const char* simd_scope = "";
#endif
  std::printf("SIMD: %s (xsimd%s%s)\n", simd_arch().c_str(), simd_enabled() ? "" : ", disabled", simd_scope);
  std::printf("kernels: %s\n", kernels::kernel_set_description().c_str());
  std::printf("threads: %d (OpenMP; %u hardware threads; set with --threads or OMP_NUM_THREADS)\n", threads(),
              std::thread::hardware_concurrency());
  std::printf("CUDA: %s\n", device::cuda_report().c_str());
  std::printf("machine: %s, %s\n", os_description().c_str(), cpu_model().c_str());
  const std::string data = data::default_data_path();
  std::printf("default data: %s\n",
              data.empty() ? "none found, training uses the built-in synthetic faces" : data.c_str());
  std::printf("\nmodels (notebook defaults):\n");
  std::printf("  %-11s %-10s %11s  %-16s %-5s %8s %6s %6s %5s  %s\n", "name", "network", "parameters", "loss", "optim",
              "lr", "epochs", "batch", "seed", "input");
  bool budgeted = false;
  for (const auto& m : models()) {
    // A recipe with a time budget trains the epochs that fit in it (train/time_budget.hpp).
    const double budget = m.recipe ? m.recipe->time_budget_minutes : 0;
    budgeted = budgeted || budget > 0;
    char epochs[16];
    if (budget > 0) std::snprintf(epochs, sizeof epochs, "%gmin", budget);
    else std::snprintf(epochs, sizeof epochs, "%d", m.epochs);
    std::printf("  %-11s %-10s %11zu  %-16s %-5s %8g %6s %6d %5llu  %s\n", m.name.c_str(), m.network.c_str(),
                m.parameters, m.loss.c_str(), m.optimizer.c_str(), m.lr, epochs, m.batch,
                static_cast<unsigned long long>(m.seed), m.preprocess_name.c_str());
  }
  if (budgeted)
    std::printf("  (NNmin: as many epochs as fit in NN minutes at the first epoch's pace; --time-budget 0 or "
                "--epochs N for a fixed count)\n");
  return 0;
}

}  // namespace

Command add_info_command(CLI::App& app) {
  auto a = std::make_shared<InfoArgs>();
  auto* info =
      app.add_subcommand("info", "Version, SIMD architecture, threads, CUDA, models; or a checkpoint's metadata");
  info->add_option("--checkpoint", a->checkpoint, "describe this checkpoint (model, epoch, weights checksum)");
  info->add_option("--model", a->model, "with --summary: the model to describe");
  info->add_flag("--summary", a->summary, "the model's layers: output shapes, parameters, activation memory");
  info->add_option("--threads", a->threads, "CPU threads");
  return {info, [a] { return cmd_info(*a); }};
}

}  // namespace fernet::app
