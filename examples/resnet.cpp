// Notebook section 6: torchvision ResNet-18/50/152 with a 1-channel conv1 and a 7-way fc
// without bias, inputs /255, CrossEntropyLoss, SGD lr 0.1 (the notebook also tried 0.01,
// 0.001, 1e-4 and 1e-6 for ResNet-18), batch 100, 100 epochs.
// Notebook: ResNet-18 58.6%, ResNet-50 48.3%, ResNet-152 49.75%.
#include <fernet/networks.hpp>

#include "common/notebook_example.hpp"

using namespace fernet;

int main(int argc, char** argv) {
  const Recipe& d = recipes::resnet18;  // the flags' defaults; --depth picks the recipe
  CLI::App app{"Train a notebook ResNet (18, 50 or 152) on FER2013", "resnet"};
  examples::Options o;
  examples::add_common_flags(app, o, d);
  int depth = 18;
  float momentum = 0.f;
  app.add_option("--depth", depth, "ResNet depth")->capture_default_str()->check(CLI::IsMember({18, 50, 152}));
  app.add_option("--momentum", momentum, "SGD momentum (the notebook used none)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  return examples::run_main(app, argc, argv, [&] {
    const SGD::Options sgd{.momentum = momentum};
    using examples::train_notebook_network;
    switch (depth) {
      case 50:
        return train_notebook_network<networks::ResNet50, CrossEntropyLoss, SGD>(o, recipes::resnet50, sgd);
      case 152:
        return train_notebook_network<networks::ResNet152, CrossEntropyLoss, SGD>(o, recipes::resnet152, sgd);
      default:
        return train_notebook_network<networks::ResNet18, CrossEntropyLoss, SGD>(o, recipes::resnet18, sgd);
    }
  });
}
