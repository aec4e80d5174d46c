#pragma once
// The run's figures, drawn with cairo: training curves (loss and accuracy per epoch, training
// and evaluation, as the notebook plotted them) and a labelled confusion-matrix heat map.
#include <string>
#include <vector>

#include <fernet/train/metrics.hpp>
#include <fernet/train/trainer.hpp>

namespace fernet::app {

// Both written atomically; throw fernet::IoError when the file cannot be written.
void plot_curves(const std::string& path, const std::vector<EpochRecord>& history, const std::string& title,
                 const std::string& eval_name);
// Several runs' evaluation accuracy in one figure, against epochs and against wall-clock minutes
// (time to accuracy), e.g. the README's comparison of recipes.
struct NamedHistory {
  std::string name;
  std::vector<EpochRecord> history;
};
void plot_runs(const std::string& path, const std::vector<NamedHistory>& runs, const std::string& eval_name);
void plot_confusion(const std::string& path, const ConfusionMatrix& m, const std::vector<std::string>& classes,
                    const std::string& title);

}  // namespace fernet::app
