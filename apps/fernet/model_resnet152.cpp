// resnet152: the notebook recipe (include/fernet/train/recipes.hpp).
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_resnet152() {
  ModelInfo m = from_recipe(recipes::resnet152);
  return make_model<networks::ResNet152, CrossEntropyLoss, SGD>(std::move(m));
}

}  // namespace fernet::app
