// The gradient all-reduce alone, as MpiCommunicator::reduce_gradients does it (weighting and an
// in-place MPI_Allreduce of floats), after a barrier so that no process waits for another:
//   mpirun -np P fernet_mpi_allreduce_time [FLOATS...]     (default: NetAdam's and ResNet-18's)
// Prints the median time per call of 20 and the bus bandwidth 2 (P - 1) / P x bytes / time.
#include <algorithm>
#include <chrono>
#include <cstdio>
#include <cstdlib>
#include <vector>

#include <fernet/dist/mpi.hpp>

int main(int argc, char** argv) {
  fernet::dist::MpiSession mpi(&argc, &argv);
  fernet::dist::MpiCommunicator comm;
  std::vector<long> sizes;
  for (int i = 1; i < argc; ++i) sizes.push_back(std::atol(argv[i]));
  if (sizes.empty()) sizes = {2470151, 11170000};  // NetAdam, ResNet-18 (fernet's 1-channel, 7-class)
  for (const long n : sizes) {
    std::vector<float> g(static_cast<std::size_t>(n), 1.f);
    std::vector<double> times;
    for (int i = 0; i < 22; ++i) {
      MPI_Barrier(comm.comm());
      const auto t0 = std::chrono::steady_clock::now();
      comm.reduce_gradients(g, 1, comm.ranks());
      times.push_back(std::chrono::duration<double>(std::chrono::steady_clock::now() - t0).count());
    }
    times.erase(times.begin(), times.begin() + 2);  // warm-up
    std::sort(times.begin(), times.end());
    const double t = times[times.size() / 2];
    const double bytes = 4.0 * n, p = comm.ranks();
    if (comm.writer())
      std::printf("%d processes, %.1f MB: %.2f ms per all-reduce (median of 20), bus bandwidth %.2f GB/s\n",
                  comm.ranks(), bytes / 1e6, t * 1e3, 2 * (p - 1) / p * bytes / t / 1e9);
  }
}
