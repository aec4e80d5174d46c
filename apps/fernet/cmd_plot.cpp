// fernet plot --out FILE RUN_DIR...: several runs' evaluation accuracy in one figure, against
// epochs and against wall-clock minutes (time to accuracy), from each DIR/history.csv.
#include <cstdio>
#include <filesystem>
#include <memory>
#include <string>
#include <vector>

#include <fernet/read_file.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "plots.hpp"

namespace fernet::app {

namespace {

namespace fs = std::filesystem;

struct PlotArgs {
  std::string out, eval_name = "PublicTest";
  std::vector<std::string> runs;
};

// A history is a few KiB; the cap keeps a wrong path (a device, a huge file) from being read.
constexpr std::uint64_t max_history_bytes = std::uint64_t{16} << 20;

std::vector<EpochRecord> read_history(const std::string& dir) {
  const std::string path = (fs::path(dir) / "history.csv").string();
  require_input_file(path, "run history");
  const std::string text = read_regular_file(path, max_history_bytes, "a run history");
  if (!text.starts_with("epoch,"))
    throw std::runtime_error("run history '" + path + "' is not a fernet history (no 'epoch,' header)");
  std::vector<EpochRecord> h = parse_history_csv(text);
  if (h.empty()) throw std::runtime_error("run history '" + path + "' has no finished epoch");
  return h;
}

int cmd_plot(const PlotArgs& a) {
  if (a.runs.empty()) throw UsageError("give one or more run directories (each with a history.csv)");
  std::vector<NamedHistory> runs;
  for (const auto& dir : a.runs) {
    const fs::path p = fs::path(dir).lexically_normal();
    runs.push_back({(p.has_filename() ? p.filename() : p.parent_path().filename()).string(), read_history(dir)});
  }
  plot_runs(a.out, runs, a.eval_name);
  std::printf("wrote %s (%zu run%s)\n", printable(a.out).c_str(), runs.size(), runs.size() == 1 ? "" : "s");
  return 0;
}

}  // namespace

Command add_plot_command(CLI::App& app) {
  auto a = std::make_shared<PlotArgs>();
  auto* plot = app.add_subcommand(
      "plot", "Compare runs: their evaluation accuracy against epochs and against wall-clock minutes, in one PNG");
  plot->add_option("runs", a->runs, "run directories (fernet train --out), each named by its directory")->required();
  plot->add_option("--out", a->out, "the PNG to write")->required();
  plot->add_option("--eval-name", a->eval_name, "what the runs evaluated on, for the title")->capture_default_str();
  return {plot, [a] { return cmd_plot(*a); }};
}

}  // namespace fernet::app
