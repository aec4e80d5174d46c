// resnet152: the notebook's defaults, as in examples/resnet.cpp --depth 152.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_resnet152() {
  ModelInfo m;
  m.name = "resnet152";
  m.network = "ResNet152";
  m.notebook = "section 6, ResNet-152 with SGD lr 0.1: 49.75% after 100 epochs";
  m.epochs = 100;
  m.batch = 100;
  m.lr = 0.1;
  m.seed = 0;
  m.preprocess = data::preprocess::unit;
  m.preprocess_name = "unit";
  return make_model<networks::ResNet152, CrossEntropyLoss, Optim::SGD>(std::move(m));
}

}  // namespace fernet::app
