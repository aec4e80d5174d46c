// resnet18: the notebook's defaults, as in examples/resnet.cpp --depth 18.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_resnet18() {
  ModelInfo m;
  m.name = "resnet18";
  m.network = "ResNet18";
  m.notebook = "section 6, ResNet-18 with SGD lr 0.1: 58.6% after 100 epochs";
  m.epochs = 100;
  m.batch = 100;
  m.lr = 0.1;
  m.seed = 0;
  m.preprocess = data::preprocess::unit;
  m.preprocess_name = "unit";
  return make_model<networks::ResNet18, CrossEntropyLoss, Optim::SGD>(std::move(m));
}

}  // namespace fernet::app
