#pragma once
// Classification metrics: the confusion matrix and what follows from it.
#include <cstdio>
#include <string>
#include <vector>

namespace fernet {

class ConfusionMatrix {
 public:
  explicit ConfusionMatrix(int classes = 0) : k_(classes), m_(static_cast<std::size_t>(classes) * classes, 0) {}
  void add(int truth, int predicted) { ++m_[static_cast<std::size_t>(truth) * k_ + predicted]; }
  int classes() const { return k_; }
  long at(int truth, int predicted) const { return m_[static_cast<std::size_t>(truth) * k_ + predicted]; }
  long total() const {
    long s = 0;
    for (long v : m_) s += v;
    return s;
  }
  long correct() const {
    long s = 0;
    for (int c = 0; c < k_; ++c) s += at(c, c);
    return s;
  }
  long support(int c) const {
    long s = 0;
    for (int p = 0; p < k_; ++p) s += at(c, p);
    return s;
  }
  long predicted(int c) const {
    long s = 0;
    for (int t = 0; t < k_; ++t) s += at(t, c);
    return s;
  }
  double accuracy() const { return total() ? static_cast<double>(correct()) / total() : 0.0; }
  // Recall is also the per-class accuracy.
  double recall(int c) const { return support(c) ? static_cast<double>(at(c, c)) / support(c) : 0.0; }
  double precision(int c) const { return predicted(c) ? static_cast<double>(at(c, c)) / predicted(c) : 0.0; }
  double f1(int c) const {
    const double p = precision(c), r = recall(c);
    return p + r > 0 ? 2 * p * r / (p + r) : 0.0;
  }

  // A plain-text report: per-class precision/recall/F1 and the matrix (rows = truth).
  template <class Names>
  std::string report(const Names& names) const {
    std::string s;
    char line[256];
    std::snprintf(line, sizeof line, "%-10s %9s %9s %9s %8s\n", "class", "precision", "recall", "f1", "support");
    s += line;
    for (int c = 0; c < k_; ++c) {
      std::snprintf(line, sizeof line, "%-10s %9.3f %9.3f %9.3f %8ld\n", std::string(names(c)).c_str(), precision(c),
                    recall(c), f1(c), support(c));
      s += line;
    }
    s += "\nconfusion matrix (rows: true class, columns: predicted)\n";
    std::snprintf(line, sizeof line, "%-10s", "");
    s += line;
    for (int c = 0; c < k_; ++c) {
      std::snprintf(line, sizeof line, " %8.8s", std::string(names(c)).c_str());
      s += line;
    }
    s += "\n";
    for (int t = 0; t < k_; ++t) {
      std::snprintf(line, sizeof line, "%-10s", std::string(names(t)).c_str());
      s += line;
      for (int p = 0; p < k_; ++p) {
        std::snprintf(line, sizeof line, " %8ld", at(t, p));
        s += line;
      }
      s += "\n";
    }
    return s;
  }

 private:
  int k_;
  std::vector<long> m_;
};

}  // namespace fernet
