// resnet18: the notebook recipe (include/fernet/train/recipes.hpp).
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_resnet18() {
  ModelInfo m = from_recipe(recipes::resnet18);
  return make_model<networks::ResNet18, CrossEntropyLoss, SGD>(std::move(m));
}

}  // namespace fernet::app
