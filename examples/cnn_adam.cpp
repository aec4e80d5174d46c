// Notebook section 4.1: NetAdam (three 3x3 conv + pool, MLP head, dropout 0.2, log-softmax),
// NLLLoss, Adam lr 1e-3, 15 epochs, batch 100, raw 0..255 inputs, seed 30.
// Notebook: 55.1% on PublicTest.
#include <fernet/networks.hpp>

#include "common/notebook_example.hpp"

using namespace fernet;

int main(int argc, char** argv) {
  const Recipe& d = recipes::cnn_adam;
  CLI::App app{"Train the notebook's CNN (NetAdam) with Adam on FER2013", "cnn_adam"};
  examples::Options o;
  examples::add_common_flags(app, o, d);
  return examples::run_main(app, argc, argv,
                            [&] { return examples::train_notebook_network<networks::NetAdam, NLLLoss, Adam>(o, d); });
}
