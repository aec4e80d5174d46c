// cnn-sgd: the notebook's defaults, as in examples/cnn_sgd.cpp.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_cnn_sgd() {
  ModelInfo m;
  m.name = "cnn-sgd";
  m.network = "NetSGD";
  m.notebook = "section 4.2, NetSGD with SGD lr 1e-3: 53.4% on PublicTest after 150 epochs";
  m.epochs = 150;
  m.batch = 100;
  m.lr = 1e-3;
  m.seed = 30;
  m.preprocess = data::preprocess::raw;
  m.preprocess_name = "raw";
  return make_model<networks::NetSGD, NLLLoss, Optim::SGD>(std::move(m));
}

}  // namespace fernet::app
