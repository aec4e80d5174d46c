#pragma once
// What data-parallel training asks of its processes, without naming a transport: the Trainer
// calls these hooks (TrainConfig::distributed) and stays free of MPI; dist/mpi.hpp implements
// them with MPI. Every call is collective: all processes make it, in the same order.
//
// The rules the Trainer follows with one (README "Data-parallel training with MPI"):
//  - every process walks the same shuffled batches and trains on its share of each
//    (BatchLoader::set_shard); its gradients (the mean over its share) are weighted by
//    share / batch and summed, so every process then holds the whole batch's mean gradient and
//    takes the same optimiser step;
//  - batch norm normalises with each process's own share (PyTorch DDP's default); the running
//    statistics every process keeps are rank 0's, sent to all after every epoch (what DDP's
//    broadcast_buffers gives rank 0, the rank that evaluates and saves);
//  - dropout masks follow a sample's place in the whole batch (Context::first_sample);
//  - rank 0 alone evaluates, prints and writes files; the others get its figures.
#include <cstdint>
#include <exception>
#include <span>
#include <stdexcept>
#include <string>
#include <utility>

#include "../data/labelled_images.hpp"
#include "../hash.hpp"

namespace fernet {

// An error every process of a data-parallel run raised at the same point (a start-up check, a
// failure in together()): they can all end normally, nobody waits for them. `cause` is the
// error this process raised itself (null when another process failed), so that a program can
// still tell a usage error from a failure (fernet exits 2 or 1).
struct CollectiveError : std::runtime_error {
  explicit CollectiveError(const std::string& message, std::exception_ptr cause = nullptr)
      : std::runtime_error(message), cause(std::move(cause)) {}
  std::exception_ptr cause;
};

class Distributed {
 public:
  virtual ~Distributed() = default;
  virtual int rank() const = 0;
  virtual int ranks() const = 0;
  bool writer() const { return rank() == 0; }  // the process that evaluates, prints and saves

  // Replaces this process's gradients (the mean over its `share` samples of a batch of `whole`)
  // with the whole batch's mean gradient.
  virtual void reduce_gradients(std::span<float> gradients, int share, int whole) = 0;
  // Sums values over the processes, in place (epoch loss, correct and sample counts).
  virtual void sum(std::span<double> values) = 0;
  // Rank 0's values to every process, in place.
  virtual void broadcast(std::span<float> values) = 0;
  virtual void broadcast(std::span<double> values) = 0;
  // True on every process when it is true on any (stop together on a signal or a NaN).
  virtual bool any(bool flag) = 0;
  // Throws the same error on every process unless all pass the same value: `what` names it
  // (the network's signature, a data checksum, the weights after an epoch).
  virtual void check_same(const std::string& what, std::uint64_t value) = 0;
};

// Runs f on every process; when it throws on any, every process throws a CollectiveError (its
// own message, or one saying that another process failed), so that none is left waiting in a
// later collective call. Without a Distributed (d null) it is f().
template <class F>
void together(Distributed* d, const std::string& what, F&& f) {
  if (!d) return f();
  std::string error;
  std::exception_ptr cause;
  try {
    f();
  } catch (const std::exception& e) {
    error = e.what();
    cause = std::current_exception();
  }
  if (!d->any(cause != nullptr)) return;
  if (cause) throw CollectiveError(error, cause);
  throw CollectiveError(what + " failed on another process (its message says why); rank " + std::to_string(d->rank()) +
                        " stops too");
}

// The checksum the processes compare at start-up: every pixel, label and the shape.
inline std::uint64_t data_checksum(const data::LabelledImages& d) {
  const auto& s = d.shape();
  const int dims[3] = {s.channels, s.height, s.width};
  std::uint64_t h = fnv1a(dims, sizeof dims);
  h = fnv1a(d.pixels().data(), d.pixels().size(), h);
  return fnv1a(d.labels().data(), d.labels().size_bytes(), h);
}

}  // namespace fernet
