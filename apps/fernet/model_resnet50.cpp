// resnet50: the notebook's defaults, as in examples/resnet.cpp --depth 50.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_resnet50() {
  ModelInfo m;
  m.name = "resnet50";
  m.network = "ResNet50";
  m.notebook = "section 6, ResNet-50 with SGD lr 0.1: 48.3% after 100 epochs";
  m.epochs = 100;
  m.batch = 100;
  m.lr = 0.1;
  m.seed = 0;
  m.preprocess = data::preprocess::unit;
  m.preprocess_name = "unit";
  return make_model<networks::ResNet50, CrossEntropyLoss, Optim::SGD>(std::move(m));
}

}  // namespace fernet::app
