// The training pipeline: batch order determinism, checkpoints, a short run on synthetic data
// that must learn, and (when the real file is present) one epoch of NetAdam on FER2013.
#include <doctest/doctest.h>

#include <cstdio>
#include <filesystem>
#include <fstream>

#include <fernet/data/batches.hpp>
#include <fernet/data/fer2013.hpp>
#include <fernet/data/synthetic.hpp>
#include <fernet/fernet.hpp>
#include <fernet/networks.hpp>
#include <fernet/train/trainer.hpp>

using namespace fernet;
namespace fs = std::filesystem;

namespace {
fs::path scratch(const std::string& name) {
  const fs::path dir = fs::temp_directory_path() / ("fernet_test_" + std::to_string(::getpid()));
  fs::create_directories(dir);
  return dir / name;
}
data::Fer2013 small_synthetic(std::size_t train, std::size_t test, std::uint64_t seed = 7) {
  data::SyntheticOptions o;
  o.training = train;
  o.public_test = test;
  o.seed = seed;
  return data::make_synthetic(o);
}
}  // namespace

TEST_CASE("batches: same seed and epoch give the same order; epochs differ; last batch partial") {
  const auto ds = small_synthetic(250, 0);
  data::BatchLoader a(ds, 100, data::preprocess::unit, true, 5), b(ds, 100, data::preprocess::unit, true, 5);
  CHECK(a.batches() == 3);
  a.start_epoch(2);
  b.start_epoch(1);
  b.start_epoch(2);  // the order depends on (seed, epoch) only, not on history
  for (int i = 0; i < 3; ++i) {
    const auto x = a.batch(i);
    std::vector<float> xa(x.images, x.images + x.size * 2304);
    std::vector<int> la(x.labels, x.labels + x.size);
    const auto y = b.batch(i);
    CHECK(x.size == y.size);
    CHECK(std::equal(la.begin(), la.end(), y.labels));
    CHECK(std::equal(xa.begin(), xa.end(), y.images));
  }
  CHECK(a.batch(2).size == 50);
  a.start_epoch(3);
  const auto e3 = a.batch(0);
  std::vector<int> l3(e3.labels, e3.labels + e3.size);
  b.start_epoch(2);
  CHECK_FALSE(std::equal(l3.begin(), l3.end(), b.batch(0).labels));
  // Every sample appears exactly once per epoch.
  std::vector<int> counts(7, 0), expected(7, 0);
  for (int i = 0; i < a.batches(); ++i) {
    const auto bt = a.batch(i);
    for (int j = 0; j < bt.size; ++j) ++counts[bt.labels[j]];
  }
  for (auto l : ds.labels) ++expected[l];
  CHECK(counts == expected);
}

TEST_CASE("batches: preprocessing (raw, /255, grey to 3 channels) and augmentation hook") {
  const auto ds = small_synthetic(10, 0);
  data::BatchLoader raw(ds, 10, data::preprocess::raw, false, 1), rgb(ds, 10, data::preprocess::unit_rgb, false, 1);
  raw.start_epoch(1);
  rgb.start_epoch(1);
  const auto r = raw.batch(0);
  std::vector<float> rv(r.images, r.images + 10 * 2304);
  const auto c = rgb.batch(0);
  for (int i = 0; i < 10; ++i)
    for (int ch = 0; ch < 3; ++ch)
      for (int p = 0; p < 2304; p += 97)
        CHECK(c.images[i * 3 * 2304 + ch * 2304 + p] == doctest::Approx(rv[i * 2304 + p] / 255.f));
  CHECK(rv[5] == static_cast<float>(ds.image(0)[5]));
  data::BatchLoader flip(ds, 10, data::preprocess::raw, false, 1);
  flip.set_augment([](float* img, int ch, int h, int w, Rng&) {
    for (int c2 = 0; c2 < ch; ++c2)
      for (int y = 0; y < h; ++y) std::reverse(img + (c2 * h + y) * w, img + (c2 * h + y + 1) * w);
  });
  flip.start_epoch(1);
  const auto f = flip.batch(0);
  CHECK(f.images[0] == rv[47]);
}

TEST_CASE("checkpoint: round trip restores the same outputs; another network is refused") {
  using Net = networks::TfCNN;
  Net a(1), b(2);
  a.eval();
  b.eval();
  std::vector<float> x(2 * Net::input_shape::size, 0.3f);
  const float* ya = a.forward(x.data(), 2);
  std::vector<float> out_a(ya, ya + 14);
  const auto path = scratch("tf.fernet").string();
  make_checkpoint(a, "tf-cnn").save(path);
  restore_checkpoint(b, Checkpoint::load(path), path, "tf-cnn");
  const float* yb = b.forward(x.data(), 2);
  CHECK(std::equal(out_a.begin(), out_a.end(), yb));

  networks::NetAdam other(1);
  try {
    restore_checkpoint(other, Checkpoint::load(path), path, "cnn-adam");
    FAIL("loading a TfCNN checkpoint into NetAdam must throw");
  } catch (const CheckpointError& e) {
    const std::string msg = e.what();
    CHECK(msg.find("'tf-cnn'") != std::string::npos);
    CHECK(msg.find("'cnn-adam'") != std::string::npos);
    CHECK(msg.find("3x48x48") != std::string::npos);
    CHECK(msg.find("1x48x48") != std::string::npos);
  }
}

TEST_CASE("checkpoint: truncated, corrupt and missing files are clear errors") {
  networks::TfCNN net(1);
  const auto path = scratch("c.fernet").string();
  make_checkpoint(net, "tf-cnn").save(path);
  const auto size = fs::file_size(path);
  fs::resize_file(path, size - 100);
  CHECK_THROWS_WITH_AS(Checkpoint::load(path), doctest::Contains("truncated or corrupt"), CheckpointError);
  { std::ofstream(path) << "hello"; }
  CHECK_THROWS_WITH_AS(Checkpoint::load(path), doctest::Contains("FERNETCK"), CheckpointError);
  CHECK_THROWS_WITH_AS(Checkpoint::load(path + ".missing"), doctest::Contains("cannot open"), CheckpointError);
  // No temporary files are left behind by atomic writes.
  for (const auto& e : fs::directory_iterator(fs::path(path).parent_path()))
    CHECK(e.path().filename().string().find(".tmp.") == std::string::npos);
}

TEST_CASE("training: a short run on synthetic faces lowers the loss and beats chance") {
  const auto ds = small_synthetic(1500, 400, 11);
  const auto train = ds.split(data::Split::Training), test = ds.split(data::Split::PublicTest);
  networks::TfCNN net(3);
  Adam opt(net, {.lr = 2e-3f});
  data::BatchLoader tl(train, 50, data::preprocess::unit_rgb, true, 3);
  data::BatchLoader el(test, 200, data::preprocess::unit_rgb, false, 3);
  TrainConfig cfg;
  cfg.epochs = 6;
  cfg.progress = false;
  const auto hist_path = scratch("history.csv").string();
  cfg.history_csv = hist_path;
  Trainer<CrossEntropyLoss, networks::TfCNN, Adam> trainer(net, opt, cfg);
  CHECK(trainer.fit(tl, &el));
  const auto& h = trainer.history();
  REQUIRE(h.size() == 6);
  CHECK(h.back().train_loss < 0.7 * h.front().train_loss);
  CHECK(h.back().test_accuracy > 0.45);  // chance is about 0.25 (always the largest class)
  std::ifstream f(hist_path);
  std::string header;
  std::getline(f, header);
  CHECK(header == "epoch,train_loss,train_accuracy,test_loss,test_accuracy,seconds,images_per_second,elapsed_seconds");
}

TEST_CASE("training: a diverging loss stops with the epoch and batch") {
  const auto ds = small_synthetic(200, 0, 3);
  networks::LinearMLP net(1);
  SGD opt(net, {.lr = 1e6f});
  data::BatchLoader tl(ds, 50, data::preprocess::raw, true, 1);
  TrainConfig cfg;
  cfg.epochs = 3;
  cfg.progress = false;
  Trainer<NLLLoss, networks::LinearMLP, SGD> trainer(net, opt, cfg);
  CHECK_THROWS_WITH_AS(trainer.fit(tl, nullptr), doctest::Contains("at epoch 1, batch"), TrainingDiverged);
}

TEST_CASE("training: resuming from a checkpoint gives the same weights as an uninterrupted run") {
  const auto ds = small_synthetic(300, 0, 5);
  auto run = [&](int epochs, const std::string& resume_from, const std::string& save_to) {
    auto net = std::make_unique<networks::TfCNN>(9);
    Adam opt(*net, {.lr = 1e-3f});
    data::BatchLoader tl(ds, 50, data::preprocess::unit_rgb, true, 9);
    TrainConfig cfg;
    cfg.model_name = "tf-cnn";
    cfg.epochs = epochs;
    cfg.progress = false;
    cfg.last_checkpoint = save_to;
    Trainer<CrossEntropyLoss, networks::TfCNN, Adam> t(*net, opt, cfg);
    if (!resume_from.empty()) t.resume(resume_from);
    t.fit(tl, nullptr);
    return std::vector<float>(net->parameters().begin(), net->parameters().end());
  };
  const auto ck = scratch("resume.fernet").string();
  const auto straight = run(3, "", "");
  run(2, "", ck);
  const auto resumed = run(3, ck, "");
  CHECK(straight == resumed);
}

// With the notebook's raw 0..255 inputs the first epoch ends near the notebook's own 37.6%;
// zero-centred inputs (the --normalize of the examples) reach about 45%.
TEST_CASE("real data: one epoch of NetAdam reaches 40% on PublicTest") {
  const std::string path = FERNET_SHARED_DATA_DIR "/fer2013-dev.csv.gz";
  if (!fs::exists(path)) {
    std::printf("[fernet: skipped] %s not found (the real FER2013 file is not on this machine)\n", path.c_str());
    return;
  }
  const auto all = data::load_fer2013(path);
  const auto train = all.split(data::Split::Training), test = all.split(data::Split::PublicTest);
  auto net = std::make_unique<networks::NetAdam>(30);
  Adam opt(*net, {.lr = 1e-3f});
  data::BatchLoader tl(train, 100, data::preprocess::centered, true, 30);
  data::BatchLoader el(test, 500, data::preprocess::centered, false, 30);
  TrainConfig cfg;
  cfg.epochs = 1;
  cfg.progress = false;
  Trainer<NLLLoss, networks::NetAdam, Adam> trainer(*net, opt, cfg);
  trainer.fit(tl, &el);
  MESSAGE("NetAdam, 1 epoch: PublicTest accuracy " << trainer.history().back().test_accuracy);
  CHECK(trainer.history().back().test_accuracy >= 0.40);
}
