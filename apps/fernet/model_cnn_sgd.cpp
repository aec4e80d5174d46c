// cnn-sgd: the notebook recipe (include/fernet/train/recipes.hpp).
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_cnn_sgd() {
  ModelInfo m = from_recipe(recipes::cnn_sgd);
  return make_model<networks::NetSGD, NLLLoss, SGD>(std::move(m));
}

}  // namespace fernet::app
