// linear-mlp: the notebook's defaults, as in examples/linear_mlp.cpp.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_linear_mlp() {
  ModelInfo m;
  m.name = "linear-mlp";
  m.network = "LinearMLP";
  m.notebook = "section 3, MLP with Adam on raw pixels: 25.0% on PublicTest (always 'Happy')";
  m.epochs = 15;
  m.batch = 100;
  m.lr = 1e-3;
  m.seed = 30;
  m.preprocess = data::preprocess::raw;
  m.preprocess_name = "raw";
  return make_model<networks::LinearMLP, NLLLoss, Optim::Adam>(std::move(m));
}

}  // namespace fernet::app
