// A program that links only fernet::fernet (no fernet::data, no zlib) and trains a network on
// its own in-memory images through the library's training run.
#include <cstdio>
#include <vector>

#include <fernet/fernet.hpp>
#include <fernet/train/run.hpp>

#ifdef ZLIB_VERSION
#error "fernet::fernet's training headers must not need zlib"
#endif

using Net = fernet::Sequential<fernet::Input<1, 8, 8>, fernet::Conv<1, 4, 3>, fernet::ReLU, fernet::Pool<2>,
                               fernet::Flatten, fernet::Linear<36, 3>>;

// 8x8 grey images: class c is bright in its third of the columns.
fernet::data::LabelledImageSet make_images(std::size_t n, std::uint64_t seed) {
  fernet::data::LabelledImageSet set({1, 8, 8});
  fernet::Rng rng(seed);
  std::vector<std::uint8_t> img(64);
  for (std::size_t i = 0; i < n; ++i) {
    const int label = static_cast<int>(rng.below(3));
    for (int p = 0; p < 64; ++p)
      img[p] = static_cast<std::uint8_t>((p % 8 * 3 / 8 == label ? 150 : 30) + rng.below(100));
    set.append(img.data(), label);
  }
  return set;
}

int main() {
  const auto train = make_images(300, 1), test = make_images(100, 2);
  const fernet::Recipe recipe{"consumer", "Net", "", 3, 20, 1e-2, 1, fernet::data::preprocess::unit, "unit"};
  auto run = fernet::run_from_recipe<fernet::Adam>(recipe);
  run.config.progress = false;
  const fernet::RunResult r = fernet::train_from_recipe<Net, fernet::CrossEntropyLoss>(run, {train, test, "in memory"});
  const double accuracy = r.last->accuracy();
  std::printf("consumer ok: %zu parameters, simd %s, accuracy %.3f after %d epochs\n", Net::parameter_count,
              fernet::simd_arch().c_str(), accuracy, r.completed_epochs);
  return Net::parameter_count == 4 * 9 + 4 + 36 * 3 + 3 && r.completed && accuracy > 0.6 ? 0 : 1;
}
