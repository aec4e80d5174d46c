#pragma once
// Data-parallel training over MPI (target fernet::mpi, built when CMake finds MPI): MpiSession
// starts and ends MPI, MpiCommunicator implements the Trainer's Distributed hooks
// (train/distributed.hpp) with one MPI_Allreduce over the contiguous gradient block per step.
//
//   fernet::dist::MpiSession mpi(&argc, &argv);      // MPI_Init_thread ... MPI_Finalize
//   fernet::dist::MpiCommunicator comm;              // MPI_COMM_WORLD
//   run.config.distributed = &comm;                  // then train_from_recipe or a Trainer
//
// Only the thread that made the session calls MPI (MPI_THREAD_FUNNELED); OpenMP threads
// compute between the calls.
#include <mpi.h>

#include <algorithm>
#include <chrono>
#include <cstdint>
#include <cstdio>
#include <limits>
#include <span>
#include <stdexcept>
#include <string>
#include <vector>

#include "../parallel.hpp"
#include "../train/distributed.hpp"

namespace fernet::dist {

struct MpiError : std::runtime_error {
  using std::runtime_error::runtime_error;
};

namespace detail {
inline void check_mpi(int code, const char* call) {
  if (code == MPI_SUCCESS) return;
  char text[MPI_MAX_ERROR_STRING];
  int length = 0;
  MPI_Error_string(code, text, &length);
  throw MpiError(std::string("fernet::dist: ") + call + " failed: " + std::string(text, length));
}
}  // namespace detail

// MPI from construction to destruction (MPI_Finalize); one per program.
class MpiSession {
 public:
  MpiSession(int* argc, char*** argv) {
    int provided = 0;
    detail::check_mpi(MPI_Init_thread(argc, argv, MPI_THREAD_FUNNELED, &provided), "MPI_Init_thread");
    if (provided < MPI_THREAD_FUNNELED) {
      MPI_Finalize();
      throw MpiError("fernet::dist: this MPI library does not allow threads beside MPI (MPI_THREAD_FUNNELED)");
    }
    // Errors come back as codes (check_mpi turns them into exceptions) instead of aborting.
    MPI_Comm_set_errhandler(MPI_COMM_WORLD, MPI_ERRORS_RETURN);
  }
  MpiSession(const MpiSession&) = delete;
  MpiSession& operator=(const MpiSession&) = delete;
  ~MpiSession() {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Finalize();
  }
  // Ends every process of the job (MPI_Abort): after an error only this process knows of, the
  // others would otherwise wait in their next collective call forever.
  [[noreturn]] static void abort(int code) {
    std::fflush(stdout);
    std::fflush(stderr);
    MPI_Abort(MPI_COMM_WORLD, code);
    std::abort();  // MPI_Abort does not return; this tells the compiler so
  }
};

class MpiCommunicator final : public Distributed {
 public:
  // A duplicate of `comm`, so that fernet's messages never meet the caller's.
  explicit MpiCommunicator(MPI_Comm comm = MPI_COMM_WORLD) {
    detail::check_mpi(MPI_Comm_dup(comm, &comm_), "MPI_Comm_dup");
    MPI_Comm_set_errhandler(comm_, MPI_ERRORS_RETURN);
    MPI_Comm_rank(comm_, &rank_);
    MPI_Comm_size(comm_, &ranks_);
  }
  MpiCommunicator(const MpiCommunicator&) = delete;
  MpiCommunicator& operator=(const MpiCommunicator&) = delete;
  ~MpiCommunicator() override {
    int finalized = 0;
    MPI_Finalized(&finalized);
    if (!finalized) MPI_Comm_free(&comm_);
  }

  int rank() const override { return rank_; }
  int ranks() const override { return ranks_; }

  // Each process weighs its mean gradient by its share of the batch, then one in-place sum.
  // The sum's order is MPI's: results agree with one process to rounding, not bit for bit.
  void reduce_gradients(std::span<float> g, int share, int whole) override {
    const auto t0 = std::chrono::steady_clock::now();
    const float w = whole > 0 ? static_cast<float>(share) / static_cast<float>(whole) : 0.f;
    if (w != 1.f)
      for (float& x : g) x *= w;
    allreduce(g.data(), g.size(), MPI_FLOAT, MPI_SUM, "MPI_Allreduce (gradients)");
    reduce_seconds_ += std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count();
    ++reductions_;
    reduced_bytes_ += g.size_bytes();
  }
  void sum(std::span<double> v) override { allreduce(v.data(), v.size(), MPI_DOUBLE, MPI_SUM, "MPI_Allreduce (sums)"); }
  void broadcast(std::span<float> v) override { bcast(v.data(), v.size(), MPI_FLOAT); }
  void broadcast(std::span<double> v) override { bcast(v.data(), v.size(), MPI_DOUBLE); }
  bool any(bool flag) override {
    int v = flag ? 1 : 0;
    allreduce(&v, 1, MPI_INT, MPI_MAX, "MPI_Allreduce (flags)");
    return v != 0;
  }
  // One call: the maximum of v and of ~v (the complement of the minimum) are equal to v and ~v
  // on every process exactly when all passed the same value.
  void check_same(const std::string& what, std::uint64_t value) override {
    std::uint64_t v[2] = {value, ~value};
    allreduce(v, 2, MPI_UINT64_T, MPI_MAX, "MPI_Allreduce (start-up check)");
    if (v[0] != value || v[1] != ~value)
      throw CollectiveError("the " + std::to_string(ranks_) + " processes disagree on " + what +
                            ": every process must run the same fernet build with the same files and settings");
  }

  // Who runs where: each process's host name and thread count, gathered on every process.
  std::vector<std::string> hosts() const {
    char name[MPI_MAX_PROCESSOR_NAME] = {};
    int length = 0;
    MPI_Get_processor_name(name, &length);
    std::vector<char> all(static_cast<std::size_t>(ranks_) * MPI_MAX_PROCESSOR_NAME);
    detail::check_mpi(
        MPI_Allgather(name, MPI_MAX_PROCESSOR_NAME, MPI_CHAR, all.data(), MPI_MAX_PROCESSOR_NAME, MPI_CHAR, comm_),
        "MPI_Allgather (host names)");
    std::vector<std::string> out;
    for (int r = 0; r < ranks_; ++r)
      out.emplace_back(all.data() + static_cast<std::size_t>(r) * MPI_MAX_PROCESSOR_NAME);
    return out;
  }
  std::vector<int> threads_per_rank() const {
    const int mine = threads();
    std::vector<int> out(static_cast<std::size_t>(ranks_));
    detail::check_mpi(MPI_Allgather(&mine, 1, MPI_INT, out.data(), 1, MPI_INT, comm_), "MPI_Allgather (threads)");
    return out;
  }

  // Processes of this job on this machine (MPI_COMM_TYPE_SHARED): a default thread count
  // divides the cores among them.
  int local_ranks() const {
    MPI_Comm local;
    detail::check_mpi(MPI_Comm_split_type(comm_, MPI_COMM_TYPE_SHARED, rank_, MPI_INFO_NULL, &local),
                      "MPI_Comm_split_type");
    int n = 1;
    MPI_Comm_size(local, &n);
    MPI_Comm_free(&local);
    return n;
  }

  // The gradient reductions so far: time spent in them (waiting for slower processes
  // included), their count and the bytes each process sent in.
  double reduce_seconds() const { return reduce_seconds_; }
  long reductions() const { return reductions_; }
  std::size_t reduced_bytes() const { return reduced_bytes_; }

  MPI_Comm comm() const { return comm_; }

 private:
  // MPI counts are int: a block beyond 2^31 elements goes in pieces.
  void allreduce(void* data, std::size_t n, MPI_Datatype type, MPI_Op op, const char* what) {
    int size = 0;
    MPI_Type_size(type, &size);
    auto* p = static_cast<char*>(data);
    constexpr std::size_t chunk = std::numeric_limits<int>::max() / 2;
    for (std::size_t at = 0; at < n; at += chunk) {
      const int count = static_cast<int>(std::min(chunk, n - at));
      detail::check_mpi(MPI_Allreduce(MPI_IN_PLACE, p + at * size, count, type, op, comm_), what);
    }
  }
  void bcast(void* data, std::size_t n, MPI_Datatype type) {
    if (n > static_cast<std::size_t>(std::numeric_limits<int>::max()))
      throw MpiError("fernet::dist: broadcast of more than 2^31 values");
    detail::check_mpi(MPI_Bcast(data, static_cast<int>(n), type, 0, comm_), "MPI_Bcast");
  }

  MPI_Comm comm_ = MPI_COMM_NULL;
  int rank_ = 0, ranks_ = 1;
  double reduce_seconds_ = 0;
  long reductions_ = 0;
  std::size_t reduced_bytes_ = 0;
};

}  // namespace fernet::dist
