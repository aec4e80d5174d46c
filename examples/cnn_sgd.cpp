// Notebook section 4.2: NetSGD (NetAdam with dropout 0.3), NLLLoss, plain SGD lr 1e-3,
// 150 epochs, batch 100, raw 0..255 inputs, seed 30. Notebook: 53.4% on PublicTest.
//
// Quirk, handled on purpose: the notebook builds its optimiser as optim.SGD(model.parameters())
// where `model` is the earlier NetAdam, yet its losses show NetSGD learning. We train NetSGD's
// own parameters, which is what the printed losses imply.
#include <fernet/networks.hpp>

#include "common/notebook_example.hpp"

using namespace fernet;

int main(int argc, char** argv) {
  const Recipe& d = recipes::cnn_sgd;
  CLI::App app{"Train the notebook's CNN (NetSGD) with SGD on FER2013", "cnn_sgd"};
  examples::Options o;
  examples::add_common_flags(app, o, d);
  float momentum = 0.f;
  app.add_option("--momentum", momentum, "SGD momentum (the notebook used none)")
      ->capture_default_str()
      ->check(CLI::Range(0.0, 0.999));
  return examples::run_main(app, argc, argv, [&] {
    return examples::train_notebook_network<networks::NetSGD, NLLLoss, SGD>(o, d, {.momentum = momentum});
  });
}
