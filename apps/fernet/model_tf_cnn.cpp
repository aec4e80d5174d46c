// tf-cnn: the notebook's defaults, as in examples/tf_cnn.cpp.
#include "model_impl.hpp"

namespace fernet::app {

ModelInfo make_tf_cnn() {
  ModelInfo m;
  m.name = "tf-cnn";
  m.network = "TfCNN";
  m.notebook = "section 5, TensorFlow CNN with Adam 5e-4: 51.1% on PublicTest after 30 epochs";
  m.epochs = 30;
  m.batch = 50;
  m.lr = 5e-4;
  m.seed = 1;
  m.preprocess = data::preprocess::unit_rgb;
  m.preprocess_name = "unit_rgb";
  return make_model<networks::TfCNN, CrossEntropyLoss, Optim::Adam>(std::move(m));
}

}  // namespace fernet::app
