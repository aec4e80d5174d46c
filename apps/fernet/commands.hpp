#pragma once
// The fernet program's commands, one file each (cmd_*.cpp). Each adds its subcommand and its
// flags to the program and returns what runs it once the command line is parsed; main.cpp
// parses, dispatches and turns errors into exit codes.
#include <functional>
#include <string>

#include <CLI/CLI.hpp>

namespace fernet::app {

struct Command {
  CLI::App* sub = nullptr;
  std::function<int()> run;  // the exit code; throws UsageError (2) or another error (1)
};

Command add_train_command(CLI::App& app, const std::string& command_line);
Command add_eval_command(CLI::App& app);
Command add_predict_command(CLI::App& app);
Command add_synth_command(CLI::App& app);
Command add_info_command(CLI::App& app);
Command add_export_command(CLI::App& app);
Command add_import_command(CLI::App& app);  // in cmd_export.cpp, its inverse
Command add_plot_command(CLI::App& app);

}  // namespace fernet::app
