// resnet50: the notebook recipe (include/fernet/train/recipes.hpp).
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_resnet50() {
  ModelInfo m = from_recipe(recipes::resnet50);
  return make_model<networks::ResNet50, CrossEntropyLoss, SGD>(std::move(m));
}

}  // namespace fernet::app
