#pragma once
// Whether this process was started by an MPI launcher (mpirun, mpiexec, srun), read from the
// environment the launchers set, without MPI itself: a build without MPI support uses it to
// refuse a job in which every process would train alone and write the same files.
#include <cstdlib>
#include <string>

namespace fernet::dist {

// The job's process count as the launcher announced it; 0 when not started by one.
inline int launched_processes() {
  // Open MPI, MPICH/Intel MPI (Hydra's PMI), MVAPICH, Slurm's srun.
  for (const char* name : {"OMPI_COMM_WORLD_SIZE", "PMI_SIZE", "MV2_COMM_WORLD_SIZE", "SLURM_STEP_NUM_TASKS"})
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n > 0) return n;
    }
  return 0;
}

// This process's place among the job's processes on its machine (0, 1, ...), as the launcher
// announced it; 0 when not started by one. Processes on a machine with several GPUs each take
// their own (device::make_backend).
inline int launched_local_rank() {
  for (const char* name : {"OMPI_COMM_WORLD_LOCAL_RANK", "MPI_LOCALRANKID", "MV2_COMM_WORLD_LOCAL_RANK", "SLURM_LOCALID"})
    if (const char* v = std::getenv(name)) {
      const int n = std::atoi(v);
      if (n >= 0) return n;
    }
  return 0;
}

}  // namespace fernet::dist
