// tf-cnn: the notebook recipe (include/fernet/train/recipes.hpp).
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_tf_cnn() {
  ModelInfo m = from_recipe(recipes::tf_cnn);
  return make_model<networks::TfCNN, CrossEntropyLoss, Adam>(std::move(m));
}

}  // namespace fernet::app
