// The library's API in one page: a network as a type, batches as xtensor containers, a few
// training steps, then class probabilities for new images. Data: the built-in synthetic faces
// (any labelled 48x48 grey images work the same way).
#include <cstdio>
#include <vector>

#include <fernet/data/synthetic.hpp>
#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>
#include <fernet/probabilities.hpp>

using namespace fernet;

int main() {
  const data::Fer2013 faces = data::make_synthetic({.training = 1000, .public_test = 0});
  constexpr std::size_t batch = 100;

  auto net = std::make_unique<networks::NetAdam>(/*seed=*/30);  // 2,470,151 parameters, on the heap
  Adam opt(*net, {.lr = 1e-3f});
  Tensor<4> images = xt::zeros<float>({batch, std::size_t{1}, std::size_t{48}, std::size_t{48}});
  std::vector<int> labels(batch);
  for (int epoch = 1; epoch <= 3; ++epoch) {
    double loss = 0;
    long correct = 0;
    for (std::size_t b = 0; b + batch <= faces.size(); b += batch) {
      for (std::size_t i = 0; i < batch; ++i) {  // pixels centred to -2..2
        const std::uint8_t* p = faces.image(b + i);
        for (std::size_t k = 0; k < 48 * 48; ++k) images.data()[i * 48 * 48 + k] = p[k] / 63.75f - 2.f;
        labels[i] = faces.labels[b + i];
      }
      const StepResult r = net->train_step<NLLLoss>(images, labels, opt);  // forward, loss, backward, update
      loss += r.loss_sum;
      correct += r.correct;
    }
    std::printf("epoch %d: loss %.3f, training accuracy %.3f\n", epoch, loss / faces.size(),
                static_cast<double>(correct) / faces.size());
  }

  const auto logp = net->infer(images);  // (batch, 7) log-probabilities in evaluation mode: a view of the network's output
  Tensor<2> p = xt::zeros<float>({batch, std::size_t{7}});
  probabilities<networks::NetAdam>(logp.data(), static_cast<int>(batch), p.data());
  const int best = argmax_row(&p(0, 0), 7);
  std::printf("first image: %s with probability %.2f (label %s)\n", data::emotion_name(best).data(), p(0, best),
              data::emotion_name(labels[0]).data());
  return 0;
}
