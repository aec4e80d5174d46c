// The C++ half of the safetensors exchange with PyTorch (tests/safetensors/run_check.sh):
//
//   fernet_safetensors_exchange export DIR   # each network's weights, inputs and fernet's outputs
//   fernet_safetensors_exchange import DIR   # PyTorch's weights (torch_NAME.safetensors) into
//                                            # fernet, outputs compared with PyTorch's
//
// export writes NAME.safetensors, NAME.in.f32 (4 inputs in the network's own shape) and
// NAME.out.f32 (fernet's outputs in eval mode) for the seven notebook networks; check.py loads
// the weights into the equivalent PyTorch modules, compares, and writes torch_NAME.safetensors,
// torch_NAME.in.f32 and torch_NAME.out.f32 from PyTorch-initialised modules for import.
// Batch-norm layers get random scales, shifts and running statistics, so a swapped name changes
// the outputs.
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iostream>
#include <memory>
#include <string>
#include <vector>

#include <fernet/networks.hpp>
#include <fernet/random.hpp>
#include <fernet/safetensors.hpp>

namespace {

using namespace fernet;
namespace fs = std::filesystem;
constexpr int batch = 4;

template <class Spec>
inline constexpr bool is_batch_norm = false;
template <int C, int M, int E>
inline constexpr bool is_batch_norm<BatchNorm2d<C, M, E>> = true;

// Running statistics near those of the inputs keep a deep ResNet's eval-mode outputs in range:
// one training-mode pass moves them from (0, 1) a tenth of the way to the batch's, so the
// visitor sets them from scratch: gamma, beta random, then after the pass mean and variance
// scaled back to the batch's.
struct RandomBatchNorm {
  std::span<float> params, buffers;
  Rng rng;
  bool after_pass = false;
  template <class N>
  void layer(const N& node) {
    if constexpr (is_batch_norm<typename N::spec>) {
      constexpr std::size_t c = N::in_shape::channels;
      float* running = buffers.data() + node.buffer_offset;
      if (after_pass) {
        for (std::size_t i = 0; i < 2 * c; ++i) running[i] *= 10.f;  // momentum 0.1 from zero
        for (std::size_t i = 0; i < c; ++i) running[i] += rng.uniform(-0.1f, 0.1f);
        return;
      }
      for (std::size_t i = 0; i < c; ++i) {
        params[node.param_offset + i] = rng.uniform(0.5f, 1.5f);
        params[node.param_offset + c + i] = rng.uniform(-0.2f, 0.2f);
      }
      std::fill(running, running + 2 * c, 0.f);
    }
  }
  template <class N>
  void enter(const N&) {}
  template <class N>
  void shortcut(const N&) {}
  template <class N>
  void leave(const N&) {}
};

void write_floats(const fs::path& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}
std::vector<float> read_floats(const fs::path& path, std::size_t n) {
  std::vector<float> v(n);
  std::ifstream f(path, std::ios::binary);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(n * sizeof(float)));
  if (!f) throw std::runtime_error("cannot read " + std::to_string(n) + " floats from " + path.string());
  return v;
}

template <class Net>
std::vector<float> outputs(Net& net, const std::vector<float>& x) {
  net.eval();
  const float* y = net.forward(x.data(), batch);
  return {y, y + batch * Net::output_shape::size};
}

template <class Net>
void export_one(const std::string& name, std::uint64_t seed, const fs::path& dir) {
  auto net = std::make_unique<Net>(seed);
  Rng rng(seed + 7);
  std::vector<float> x(batch * Net::input_shape::size);
  for (float& v : x) v = rng.uniform(0.f, 1.f);
  if constexpr (Net::buffer_count > 0) {
    RandomBatchNorm bn{net->parameters(), net->buffers(), Rng(seed + 1)};
    walk_network<Net>(bn);
    net->train();
    net->forward(x.data(), batch);
    bn.after_pass = true;
    walk_network<Net>(bn);
  }
  save_safetensors(*net, (dir / (name + ".safetensors")).string(), {{"fernet.network", Net::signature()}});
  write_floats(dir / (name + ".in.f32"), x);
  write_floats(dir / (name + ".out.f32"), outputs(*net, x));
  std::cout << name << ": " << torch_names<Net>().size() << " tensors exported\n";
}

// PyTorch's weights into a fernet network of another seed; outputs within 1e-4 of PyTorch's,
// relative to their scale max(1, max |PyTorch|) (seeded ResNet-152 outputs reach about 20, where
// float32 rounding through 155 layers alone moves them by 1e-3).
template <class Net>
bool import_one(const std::string& name, std::uint64_t seed, const fs::path& dir) {
  auto net = std::make_unique<Net>(seed + 1000);
  load_safetensors(*net, (dir / ("torch_" + name + ".safetensors")).string());
  const std::size_t k = Net::output_shape::size;
  const auto x = read_floats(dir / ("torch_" + name + ".in.f32"), batch * Net::input_shape::size);
  const auto expected = read_floats(dir / ("torch_" + name + ".out.f32"), batch * k);
  const auto y = outputs(*net, x);
  float worst = 0.f, scale = 1.f;
  for (std::size_t i = 0; i < y.size(); ++i) {
    worst = std::max(worst, std::fabs(y[i] - expected[i]));
    scale = std::max(scale, std::fabs(expected[i]));
  }
  const bool ok = worst / scale <= 1e-4f;
  std::cout << "import " << name << ": max |fernet - PyTorch| / max(1, max |PyTorch|) = " << worst / scale
            << (ok ? " ok" : " FAILED") << " (bar 1e-4)\n";
  return ok;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc != 3 || (std::string(argv[1]) != "export" && std::string(argv[1]) != "import")) {
    std::cerr << "usage: fernet_safetensors_exchange export|import DIR\n";
    return 2;
  }
  const std::string mode = argv[1];
  const fs::path dir = argv[2];
  using namespace fernet::networks;
  try {
    if (mode == "export") {
      fs::create_directories(dir);
      export_one<LinearMLP>("linear-mlp", 1, dir);
      export_one<NetAdam>("cnn-adam", 2, dir);
      export_one<NetSGD>("cnn-sgd", 3, dir);
      export_one<TfCNN>("tf-cnn", 4, dir);
      export_one<ResNet18>("resnet18", 5, dir);
      export_one<ResNet50>("resnet50", 6, dir);
      export_one<ResNet152>("resnet152", 7, dir);
      return 0;
    }
    bool ok = import_one<LinearMLP>("linear-mlp", 1, dir);
    ok &= import_one<NetAdam>("cnn-adam", 2, dir);
    ok &= import_one<NetSGD>("cnn-sgd", 3, dir);
    ok &= import_one<TfCNN>("tf-cnn", 4, dir);
    ok &= import_one<ResNet18>("resnet18", 5, dir);
    ok &= import_one<ResNet50>("resnet50", 6, dir);
    ok &= import_one<ResNet152>("resnet152", 7, dir);
    return ok ? 0 : 1;
  } catch (const std::exception& e) {
    std::cerr << "fernet_safetensors_exchange: " << e.what() << '\n';
    return 1;
  }
}
