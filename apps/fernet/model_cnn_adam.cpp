// cnn-adam: the notebook's defaults, as in examples/cnn_adam.cpp.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_cnn_adam() {
  ModelInfo m;
  m.name = "cnn-adam";
  m.network = "NetAdam";
  m.notebook = "section 4.1, NetAdam with Adam: 55.1% on PublicTest after 15 epochs";
  m.epochs = 15;
  m.batch = 100;
  m.lr = 1e-3;
  m.seed = 30;
  m.preprocess = data::preprocess::raw;
  m.preprocess_name = "raw";
  return make_model<networks::NetAdam, NLLLoss, Optim::Adam>(std::move(m));
}

}  // namespace fernet::app
