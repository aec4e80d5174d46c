// cnn-adam: the notebook recipe (include/fernet/train/recipes.hpp).
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_cnn_adam() {
  ModelInfo m = from_recipe(recipes::cnn_adam);
  return make_model<networks::NetAdam, NLLLoss, Adam>(std::move(m));
}

}  // namespace fernet::app
