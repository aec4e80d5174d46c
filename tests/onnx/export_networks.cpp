// Writes what tests/onnx/check_onnx.py compares: the seven notebook networks as ONNX files, the
// images, and fernet's own outputs on them.
//
//   fernet_onnx_export OUTDIR [--images N] [--data FER2013.csv[.gz]] [--synthetic] [--only MODEL]
//                      [--load MODEL=CHECKPOINT]...
//
// Images: the first N PublicTest rows of the FER2013 file (default: FERNET_SHARED_DATA_DIR's
// fer2013-dev.csv.gz when it exists), else N synthetic faces; OUTDIR/source.txt says which.
// Weights: each network's notebook seed; batch-norm layers get random scales and shifts and the
// running statistics of the images (fresh ones would make BatchNormalization nearly the
// identity and leave it untested); --load MODEL=FILE takes a trained checkpoint instead.
//
// OUTDIR gets images.f32 (N x 48 x 48 raw pixels 0..255, float32), then per network NAME.onnx
// and NAME.out.f32 (N x 7 float32: fernet's log-probabilities or logits), and manifest.tsv,
// one line per network: name, N, classes, output kind, weights, preprocessing scale and offset.
// Each file is also imported back (onnx/import.hpp) into a network of another seed, which must
// then hold the exported weights bit for bit.
//
//   fernet_onnx_export --import-torch DIR
//
// The other direction: DIR/torch_cnn-adam.onnx (torch.onnx.export of a PyTorch NetAdam, written
// by torch_onnx.py) imported into fernet's NetAdam, whose outputs on DIR/torch_cnn-adam.in.f32
// must be within 1e-4 of PyTorch's (DIR/torch_cnn-adam.out.f32).
#include <algorithm>
#include <cmath>
#include <cstdio>
#include <filesystem>
#include <fstream>
#include <iomanip>
#include <iostream>
#include <map>
#include <string>
#include <vector>

#include <fernet/checkpoint.hpp>
#include <fernet/data/fer2013.hpp>
#include <fernet/data/synthetic.hpp>
#include <fernet/networks.hpp>
#include <fernet/onnx/export.hpp>
#include <fernet/onnx/import.hpp>
#include <fernet/train/recipes.hpp>

namespace {

using namespace fernet;

struct Options {
  std::string out_dir, data;
  int images = 100;
  bool synthetic = false;
  std::map<std::string, std::string> checkpoints;  // model name -> file
  std::string only;                                // export just this network
};

template <class Spec>
inline constexpr bool is_batch_norm = false;
template <int C, int M, int E>
inline constexpr bool is_batch_norm<BatchNorm2d<C, M, E>> = true;

template <class Spec>
inline constexpr int momentum_permille = 0;
template <int C, int M, int E>
inline constexpr int momentum_permille<BatchNorm2d<C, M, E>> = M;

// Batch-norm layers as training would leave them, in two steps around one training-mode pass:
// before, random scales and shifts (fresh ones are 1 and 0) and running statistics of zero;
// after, the running statistics divided by the momentum. A training pass normalises with the
// batch's own statistics and moves each running value by momentum * (batch value - running),
// so from zero this gives the batch's statistics exactly.
struct CalibrateBatchNorm {
  std::span<float> params, buffers;
  Rng rng;
  bool after_pass = false;
  template <class N>
  void layer(const N& node) {
    if constexpr (is_batch_norm<typename N::spec>) {
      constexpr std::size_t c = N::in_shape::channels;
      float* running = buffers.data() + node.buffer_offset;  // mean[c], then variance[c]
      if (after_pass) {
        for (std::size_t i = 0; i < 2 * c; ++i) running[i] *= 1000.f / momentum_permille<typename N::spec>;
        return;
      }
      for (std::size_t i = 0; i < c; ++i) {
        params[node.param_offset + i] = rng.uniform(0.5f, 1.5f);       // gamma
        params[node.param_offset + c + i] = rng.uniform(-0.2f, 0.2f);  // beta
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

// Images 0..n-1 preprocessed for Net as data::BatchLoader does: pixel * scale + offset,
// grey replicated to the network's channels.
template <class Net>
std::vector<float> preprocess(const Recipe& recipe, const std::vector<float>& pixels, int first, int n) {
  constexpr int C = Net::input_shape::channels;
  std::vector<float> x(static_cast<std::size_t>(n) * C * data::image_pixels);
  for (int i = 0; i < n; ++i)
    for (int c = 0; c < C; ++c)
      for (int p = 0; p < data::image_pixels; ++p)
        x[(static_cast<std::size_t>(i) * C + c) * data::image_pixels + p] =
            pixels[static_cast<std::size_t>(first + i) * data::image_pixels + p] * recipe.preprocess.scale +
            recipe.preprocess.offset;
  return x;
}

void write_floats(const std::filesystem::path& path, const std::vector<float>& v) {
  std::ofstream f(path, std::ios::binary);
  f.write(reinterpret_cast<const char*>(v.data()), static_cast<std::streamsize>(v.size() * sizeof(float)));
  if (!f) throw std::runtime_error("cannot write " + path.string());
}

template <class Net>
void export_one(const Recipe& recipe, const Options& opt, const std::vector<float>& pixels, int n,
                std::ofstream& manifest) {
  if (!opt.only.empty() && opt.only != recipe.name) return;
  auto net = std::make_unique<Net>(recipe.seed);
  const auto ck = opt.checkpoints.find(recipe.name);
  if (ck != opt.checkpoints.end()) {
    restore_checkpoint(*net, Checkpoint::load(ck->second), ck->second, recipe.name);
  } else if constexpr (Net::buffer_count > 0) {
    // Fresh running statistics (0 and 1) with random weights make a ResNet-152's outputs grow
    // to millions in eval mode; those of a batch of the images keep them as a trained one's.
    CalibrateBatchNorm bn{net->parameters(), net->buffers(), Rng(recipe.seed + 1)};
    walk_network<Net>(bn);
    const std::vector<float> x = preprocess<Net>(recipe, pixels, 0, n);
    net->train();
    net->forward(x.data(), n);
    bn.after_pass = true;
    walk_network<Net>(bn);
  }
  net->eval();

  onnx::ExportOptions eo;
  eo.model_name = recipe.network;
  eo.preprocessing = onnx::Preprocessing{recipe.preprocess.scale, recipe.preprocess.offset};
  for (int c = 0; c < data::num_classes; ++c) eo.class_names.emplace_back(data::emotion_name(c));
  eo.metadata = {{"fernet.model", recipe.name}, {"fernet.preprocess", recipe.preprocess_name}};
  const auto dir = std::filesystem::path(opt.out_dir);
  const std::string file = (dir / (std::string(recipe.name) + ".onnx")).string();
  onnx::export_model(*net, file, eo);
  {  // the weights come back bit for bit
    auto back = std::make_unique<Net>(recipe.seed + 77);
    onnx::load_onnx(*back, file);
    if (!std::equal(back->parameters().begin(), back->parameters().end(), net->parameters().begin()) ||
        !std::equal(back->buffers().begin(), back->buffers().end(), net->buffers().begin()))
      throw std::runtime_error(file + ": importing the exported file did not give the weights back");
    std::cout << recipe.name << ": ONNX import gives the weights back bit for bit\n";
  }

  // fernet's outputs on the same images, preprocessed as data::BatchLoader does.
  constexpr std::size_t k = Net::output_shape::size;
  const int chunk = 20;
  std::vector<float> out(static_cast<std::size_t>(n) * k);
  for (int start = 0; start < n; start += chunk) {
    const int m = std::min(chunk, n - start);
    const std::vector<float> x = preprocess<Net>(recipe, pixels, start, m);
    const float* y = net->forward(x.data(), m);
    std::copy(y, y + static_cast<std::size_t>(m) * k, out.begin() + static_cast<std::ptrdiff_t>(start * k));
  }
  write_floats(dir / (std::string(recipe.name) + ".out.f32"), out);
  manifest << recipe.name << '\t' << n << '\t' << k << '\t'
           << (onnx::ends_in_log_softmax<Net> ? "log-probabilities" : "logits") << '\t'
           << (ck != opt.checkpoints.end() ? ck->second : "seeded") << '\t' << recipe.preprocess.scale << '\t'
           << recipe.preprocess.offset << '\n';
  std::cout << recipe.name << ": " << Net::parameter_count << " parameters exported\n";
}

std::vector<float> read_floats(const std::filesystem::path& path, std::size_t count) {
  std::ifstream f(path, std::ios::binary);
  std::vector<float> v(count);
  f.read(reinterpret_cast<char*>(v.data()), static_cast<std::streamsize>(count * sizeof(float)));
  if (!f || f.peek() != std::char_traits<char>::eof())
    throw std::runtime_error(path.string() + " does not hold exactly " + std::to_string(count) + " floats");
  return v;
}

// PyTorch's NetAdam, exported by torch.onnx.export, in fernet: the outputs must agree.
int import_torch(const std::filesystem::path& dir) {
  using Net = networks::NetAdam;
  constexpr std::size_t in = Net::input_shape::size, k = Net::output_shape::size;
  const auto count = std::filesystem::file_size(dir / "torch_cnn-adam.in.f32") / (in * sizeof(float));
  const int n = static_cast<int>(count);
  const std::vector<float> x = read_floats(dir / "torch_cnn-adam.in.f32", count * in);
  const std::vector<float> expected = read_floats(dir / "torch_cnn-adam.out.f32", count * k);
  auto net = std::make_unique<Net>(123);
  onnx::load_onnx(*net, (dir / "torch_cnn-adam.onnx").string());
  net->eval();
  const float* y = net->forward(x.data(), n);
  double worst = 0;
  int agree = 0;
  for (int i = 0; i < n; ++i) {
    for (std::size_t j = 0; j < k; ++j) worst = std::max(worst, static_cast<double>(std::abs(y[i * k + j] - expected[i * k + j])));
    agree += std::max_element(y + i * k, y + (i + 1) * k) - (y + i * k) ==
             std::max_element(expected.begin() + i * k, expected.begin() + (i + 1) * k) - (expected.begin() + i * k);
  }
  std::cout << "PyTorch NetAdam (torch.onnx.export) in fernet: " << n << " images, max |difference| " << worst
            << ", argmax agrees on " << agree << " of " << n << '\n';
  return worst <= 1e-4 && agree == n ? 0 : 1;
}

int usage(const char* why) {
  std::cerr << "fernet_onnx_export: " << why
            << "\nusage: fernet_onnx_export OUTDIR [--images N] [--data FILE] [--synthetic] [--only MODEL] [--load "
               "MODEL=CHECKPOINT]...\n";
  return 2;
}

}  // namespace

int main(int argc, char** argv) {
  if (argc == 3 && std::string(argv[1]) == "--import-torch") try {
      return import_torch(argv[2]);
    } catch (const std::exception& e) {
      std::cerr << "fernet_onnx_export --import-torch: " << e.what() << '\n';
      return 1;
    }
  Options opt;
#ifdef FERNET_SHARED_DATA_DIR
  opt.data = std::string(FERNET_SHARED_DATA_DIR) + "/fer2013-dev.csv.gz";
#endif
  for (int i = 1; i < argc; ++i) {
    const std::string a = argv[i];
    auto value = [&]() -> std::string {
      if (i + 1 >= argc) throw std::invalid_argument(a + " needs a value");
      return argv[++i];
    };
    try {
      if (a == "--images") opt.images = std::stoi(value());
      else if (a == "--data") opt.data = value();
      else if (a == "--synthetic") opt.synthetic = true;
      else if (a == "--only") opt.only = value();
      else if (a == "--load") {
        const std::string v = value();
        const auto eq = v.find('=');
        if (eq == std::string::npos) return usage("--load wants MODEL=CHECKPOINT");
        opt.checkpoints[v.substr(0, eq)] = v.substr(eq + 1);
      } else if (!a.empty() && a[0] == '-') return usage(("unknown option " + a).c_str());
      else opt.out_dir = a;
    } catch (const std::exception& e) { return usage(e.what()); }
  }
  if (opt.out_dir.empty()) return usage("no OUTDIR");
  const std::vector<std::string> names = {recipes::linear_mlp.name, recipes::cnn_adam.name, recipes::cnn_sgd.name,
                                          recipes::tf_cnn.name,     recipes::resnet18.name, recipes::resnet50.name,
                                          recipes::resnet152.name};
  for (const auto& [model, file] : opt.checkpoints)
    if (std::find(names.begin(), names.end(), model) == names.end())
      return usage(("--load " + model + "=" + file + ": no network named " + model).c_str());
  if (opt.images <= 0) return usage("--images must be at least 1");

  try {
    std::filesystem::create_directories(opt.out_dir);
    const bool real = !opt.synthetic && std::filesystem::exists(opt.data);
    data::Fer2013 images;
    std::string source;
    if (real) {
      images = data::load_fer2013(opt.data).split(data::Split::PublicTest);
      source = "FER2013 PublicTest, first rows of " + opt.data;
    } else {
      data::SyntheticOptions so;
      so.training = 0;
      so.public_test = static_cast<std::size_t>(opt.images);
      images = data::make_synthetic(so).split(data::Split::PublicTest);
      source = "synthetic faces (fernet/data/synthetic.hpp)";
    }
    const int n = static_cast<int>(std::min<std::size_t>(images.size(), static_cast<std::size_t>(opt.images)));
    if (n < opt.images) std::cerr << "fernet_onnx_export: only " << n << " images available, using them all\n";
    std::vector<float> pixels(images.pixels.begin(),
                              images.pixels.begin() + static_cast<std::ptrdiff_t>(n) * data::image_pixels);
    const auto dir = std::filesystem::path(opt.out_dir);
    write_floats(dir / "images.f32", pixels);
    std::ofstream(dir / "source.txt") << n << " images: " << source << '\n';
    std::cout << "images: " << n << " from " << source << '\n';

    std::ofstream manifest(dir / "manifest.tsv");
    manifest << std::setprecision(9);
    using namespace fernet::networks;
    export_one<LinearMLP>(recipes::linear_mlp, opt, pixels, n, manifest);
    export_one<NetAdam>(recipes::cnn_adam, opt, pixels, n, manifest);
    export_one<NetSGD>(recipes::cnn_sgd, opt, pixels, n, manifest);
    export_one<TfCNN>(recipes::tf_cnn, opt, pixels, n, manifest);
    export_one<ResNet18>(recipes::resnet18, opt, pixels, n, manifest);
    export_one<ResNet50>(recipes::resnet50, opt, pixels, n, manifest);
    export_one<ResNet152>(recipes::resnet152, opt, pixels, n, manifest);
    if (manifest.tellp() == 0) return usage(("--only " + opt.only + ": no such network").c_str());
  } catch (const std::exception& e) {
    std::cerr << "fernet_onnx_export: " << e.what() << '\n';
    return 1;
  }
  return 0;
}
