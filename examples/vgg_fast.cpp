// Accuracy recipe vgg-fast (include/fernet/train/recipes.hpp): a batch-normalised VGG on 44x44
// crops, SGD with Nesterov momentum, warm-up + cosine, label smoothing, crop/flip/affine/erasing
// augmentation and ten-crop evaluation, trained to a 60-minute budget (the epochs that fit at
// the first epoch's pace; --time-budget 0 for the fixed 16, --epochs N for N).
// `--recipe vgg-best` trains the wider VggBest with its longer recipe instead (150 minutes).
#include <fernet/networks.hpp>

#include "common/notebook_example.hpp"

using namespace fernet;

int main(int argc, char** argv) {
  std::string recipe = "vgg-fast";
  for (int i = 1; i + 1 < argc; ++i)  // the recipe sets the other flags' defaults, so it is read first
    if (std::string(argv[i]) == "--recipe") recipe = argv[i + 1];
  Recipe d = recipe == "vgg-best" ? recipes::vgg_best : recipes::vgg_fast;
  CLI::App app{"Train an accuracy recipe (BN-VGG, augmentation, schedule, ten-crop) on FER2013", "vgg_fast"};
  examples::Options o;
  examples::add_common_flags(app, o, d);
  std::string augment = d.augment, schedule = d.schedule, tta = d.tta;
  app.add_option("--recipe", recipe, "vgg-fast or vgg-best")
      ->capture_default_str()
      ->check(CLI::IsMember({"vgg-fast", "vgg-best"}));
  app.add_option("--augment", augment, "training augmentation (train/options_text.hpp)")->capture_default_str();
  app.add_option("--schedule", schedule, "learning-rate schedule")->capture_default_str();
  app.add_option("--tta", tta, "evaluation views")->capture_default_str();
  app.add_option("--label-smoothing", d.label_smoothing, "label smoothing")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  return examples::run_main(app, argc, argv, [&] {
    d.augment = augment.c_str();
    d.schedule = schedule.c_str();
    d.tta = tta.c_str();
    if (recipe == "vgg-best") return examples::train_notebook_network<networks::VggBest, CrossEntropyLoss, SGD>(o, d);
    return examples::train_notebook_network<networks::VggFast, CrossEntropyLoss, SGD>(o, d);
  });
}
