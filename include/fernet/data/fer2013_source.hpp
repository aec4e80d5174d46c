#pragma once
// What a FER2013 program trains on: the file it is given (plain or gzip), or the built-in
// synthetic faces when it has none, split into the Training rows and the rows of the split it
// evaluates on. The examples and the fernet program load their data through here.
#include <cstddef>
#include <string>

#include "fer2013_dataset.hpp"
#include "fer2013_file.hpp"
#include "synthetic.hpp"

namespace fernet::data {

// "N Training, N PublicTest, N PrivateTest rows", for messages about missing rows.
inline std::string split_counts(const Fer2013& d) {
  std::size_t n[3] = {0, 0, 0};
  for (const Split u : d.usage) ++n[static_cast<int>(u)];
  return std::to_string(n[0]) + " Training, " + std::to_string(n[1]) + " PublicTest, " + std::to_string(n[2]) +
         " PrivateTest rows";
}

// The file at `path`, or the synthetic faces when `path` is empty; `description` says which.
inline Fer2013 load_fer2013_or_synthetic(const std::string& path, std::string& description) {
  if (path.empty()) {
    description = "built-in synthetic faces";
    return make_synthetic();
  }
  description = path;
  return load_fer2013(path);
}

struct TrainingSplits {
  Fer2013 train, eval;
};

// The Training rows and the `eval` rows of `all`; a DataError naming the source and the rows it
// has when either is empty.
inline TrainingSplits training_splits(const Fer2013& all, Split eval, const std::string& description) {
  TrainingSplits s{all.split(Split::Training), all.split(eval)};
  if (s.train.size() == 0) throw DataError(description + ": no Training rows to train on (" + split_counts(all) + ")");
  if (s.eval.size() == 0)
    throw DataError(description + ": no " + std::string(split_name(eval)) + " rows to evaluate on (" +
                    split_counts(all) + "); choose another evaluation split");
  return s;
}

}  // namespace fernet::data
