// linear-mlp: the notebook recipe (include/fernet/train/recipes.hpp).
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_linear_mlp() {
  ModelInfo m = from_recipe(recipes::linear_mlp);
  return make_model<networks::LinearMLP, NLLLoss, Adam>(std::move(m));
}

}  // namespace fernet::app
