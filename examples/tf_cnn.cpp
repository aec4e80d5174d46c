// Notebook section 5: the small TensorFlow CNN on 48x48x3 (grey replicated), inputs /255:
// conv 4x4x8 'same' (no bias), ReLU, max-pool 4/4 'same', conv 2x2x16 'same' (no bias), ReLU,
// max-pool 2/2 'same', fully connected 120, 64, 7; softmax cross-entropy, Adam 5e-4,
// 30 epochs, batch 50, Xavier initialisation. Notebook: 51.1% on its test split (PublicTest).
#include <fernet/networks.hpp>

#include "common/notebook_example.hpp"

using namespace fernet;

int main(int argc, char** argv) {
  const Recipe& d = recipes::tf_cnn;
  CLI::App app{"Train the notebook's TensorFlow-style CNN on FER2013", "tf_cnn"};
  examples::Options o;
  examples::add_common_flags(app, o, d);
  return examples::run_main(
      app, argc, argv, [&] { return examples::train_notebook_network<networks::TfCNN, CrossEntropyLoss, Adam>(o, d); });
}
