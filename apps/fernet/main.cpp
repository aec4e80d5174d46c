// fernet: the command-line program for the whole FER2013 job without writing C++.
//   fernet train --model NAME [--data FILE] [--epochs N --batch N --lr X --seed N --threads N] --out DIR
//   fernet train --resume DIR
//   fernet eval --load FILE [--data FILE] [--split NAME] [--json]
//   fernet predict --load FILE IMAGE... | --csv FILE [--out FILE]
//   fernet synth --rows N --out FILE.csv[.gz]
//   fernet info [--checkpoint FILE | --model NAME --summary]
//   fernet export --load FILE --out FILE.onnx|FILE.safetensors
//   fernet import --model NAME --out FILE.fernet WEIGHTS.safetensors
// Each command, with its flags, is in cmd_<name>.cpp; this file parses and dispatches.
// Exit codes: 0 success, 1 an error (file, data, checkpoint), 2 a usage error (flag or value),
// 128 + signal when training was interrupted by SIGINT/SIGTERM (the run can be resumed).
#include <CLI/CLI.hpp>

#include <cstdio>
#include <string>
#include <vector>

#include <fernet/version.hpp>

#include "cli_common.hpp"
#include "commands.hpp"
#include "models.hpp"

using namespace fernet;
using namespace fernet::app;

namespace {

// CLI11's parse error as one line naming the subcommand, unknown flags listed plainly.
int report_parse_error(CLI::App& app, const CLI::ParseError& e) {
  std::string sub;
  for (const CLI::App* s : app.get_subcommands()) sub = s->get_name();
  std::string message = e.what();
  if (dynamic_cast<const CLI::ExtrasError*>(&e)) {
    std::vector<std::string> extras = sub.empty() ? app.remaining() : app.get_subcommand(sub)->remaining();
    std::string flags, args;
    for (const auto& x : extras) (x.rfind("-", 0) == 0 && x.size() > 1 ? flags : args) += " " + x;
    message = !flags.empty()
                  ? "unknown flag" + std::string(flags.find(' ', 1) != std::string::npos ? "s" : "") + ":" + flags
                  : "unexpected argument" + std::string(args.find(' ', 1) != std::string::npos ? "s" : "") + ":" + args;
  }
  std::fprintf(stderr, "fernet: error: %s\nRun 'fernet%s --help' for the flags.\n", message.c_str(),
               sub.empty() ? "" : (" " + sub).c_str());
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  CLI::App app{
      "fernet: train, evaluate and use the FER2013 notebook's networks (fernet " + std::string(version_string) + ")",
      "fernet"};
  app.require_subcommand(1);
  app.set_version_flag("--version", version_string);
  app.footer("Models: " + model_names() +
             "\nExit codes: 0 success, 1 error, 2 usage error, 130/143 training interrupted (resumable).");
  const std::vector<Command> commands = {add_train_command(app, command_line(argc, argv)),
                                         add_eval_command(app),
                                         add_predict_command(app),
                                         add_synth_command(app),
                                         add_info_command(app),
                                         add_export_command(app),
                                         add_import_command(app),
                                         add_plot_command(app)};

  if (argc > 1 && argv[1][0] != '-' && [&] {
        for (const CLI::App* sub : app.get_subcommands({}))
          if (sub->get_name() == argv[1]) return false;
        return true;
      }()) {
    std::fprintf(stderr,
                 "fernet: error: unknown command '%s'; the commands are train, eval, predict, synth, info, export and import\n"
                 "Run 'fernet --help' for more.\n",
                 argv[1]);
    return 2;
  }
  try {
    app.parse(argc, argv);
  } catch (const CLI::ParseError& e) {
    if (e.get_exit_code() == 0) return app.exit(e);  // --help, --version
    return report_parse_error(app, e);
  }
  try {
    for (const Command& c : commands)
      if (*c.sub) return c.run();
  } catch (const UsageError& e) {
    std::fflush(stdout);
    std::fprintf(stderr, "fernet: error: %s\nRun 'fernet %s --help' for the flags.\n", printable(e.what()).c_str(),
                 app.get_subcommands().empty() ? "" : app.get_subcommands().front()->get_name().c_str());
    return 2;
  } catch (const std::exception& e) {
    std::fflush(stdout);
    std::string message = e.what();
    if (message.rfind("fernet: ", 0) == 0) message.erase(0, 8);  // library messages carry the prefix too
    std::fprintf(stderr, "fernet: error: %s\n", printable(message).c_str());  // messages quote file contents
    return 1;
  }
  return 0;
}
