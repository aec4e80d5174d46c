#pragma once
// Machine description and JSON forms of the metrics, for report.json and `eval --json`.
#include <sys/utsname.h>

#include <cmath>
#include <fstream>
#include <string>
#include <thread>
#include <vector>

#include <nlohmann/json.hpp>

#include <fernet/data/fer2013_dataset.hpp>
#include <fernet/train/metrics.hpp>
#include <fernet/train/trainer.hpp>

namespace fernet::app {

inline std::string cpu_model() {
  std::ifstream in("/proc/cpuinfo");
  std::string line;
  while (std::getline(in, line))
    if (line.rfind("model name", 0) == 0) {
      const auto colon = line.find(':');
      if (colon != std::string::npos) {
        auto v = line.substr(colon + 1);
        v.erase(0, v.find_first_not_of(" \t"));
        return v;
      }
    }
  return "unknown";
}

inline std::string os_description() {
  utsname u{};
  if (::uname(&u) != 0) return "unknown";
  return std::string(u.sysname) + " " + u.release + " " + u.machine;
}

inline nlohmann::ordered_json machine_json() {
  return {{"os", os_description()}, {"cpu", cpu_model()}, {"cores", std::thread::hardware_concurrency()}};
}

inline std::vector<std::string> class_names() {
  std::vector<std::string> v;
  for (int c = 0; c < data::num_classes; ++c) v.emplace_back(data::emotion_name(c));
  return v;
}

// NaN has no JSON form; it becomes null.
inline nlohmann::ordered_json number(double v) {
  return std::isfinite(v) ? nlohmann::ordered_json(v) : nlohmann::ordered_json(nullptr);
}

inline nlohmann::ordered_json metrics_json(const ConfusionMatrix& m) {
  nlohmann::ordered_json per_class = nlohmann::ordered_json::array();
  nlohmann::ordered_json matrix = nlohmann::ordered_json::array();
  for (int t = 0; t < m.classes(); ++t) {
    per_class.push_back({{"class", std::string(data::emotion_name(t))},
                         {"precision", m.precision(t)},
                         {"recall", m.recall(t)},
                         {"f1", m.f1(t)},
                         {"support", m.support(t)}});
    nlohmann::ordered_json row = nlohmann::ordered_json::array();
    for (int p = 0; p < m.classes(); ++p) row.push_back(m.at(t, p));
    matrix.push_back(row);
  }
  return {{"accuracy", m.accuracy()},
          {"correct", m.correct()},
          {"images", m.total()},
          {"per_class", per_class},
          {"classes", class_names()},
          {"confusion_matrix", matrix},
          {"confusion_matrix_layout", "rows: true class, columns: predicted class"}};
}

inline nlohmann::ordered_json epoch_json(const EpochRecord& r) {
  return {{"epoch", r.epoch},
          {"train_loss", number(r.train_loss)},
          {"train_accuracy", number(r.train_accuracy)},
          {"eval_loss", number(r.test_loss)},
          {"eval_accuracy", number(r.test_accuracy)},
          {"seconds", number(r.seconds)},
          {"images_per_second", number(r.images_per_second)},
          {"elapsed_minutes", number(r.elapsed_seconds / 60)}};
}

}  // namespace fernet::app
