// vgg-best: an accuracy recipe (include/fernet/train/recipes.hpp), BN-VGG on 44x44 crops.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_vgg_best() {
  ModelInfo m = from_recipe(recipes::vgg_best);
  return make_model<networks::VggBest, CrossEntropyLoss, SGD>(std::move(m));
}

}  // namespace fernet::app
