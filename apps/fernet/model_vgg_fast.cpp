// vgg-fast: an accuracy recipe (include/fernet/train/recipes.hpp), BN-VGG on 44x44 crops.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_vgg_fast() {
  ModelInfo m = from_recipe(recipes::vgg_fast);
  return make_model<networks::VggFast, CrossEntropyLoss, SGD>(std::move(m));
}

}  // namespace fernet::app
