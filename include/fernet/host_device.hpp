#pragma once
// FERNET_HD marks functions that both the CPU and the CUDA kernels call (index arithmetic,
// hashing, per-element rules), so that the CPU test suite exercises the code the GPU runs.
#if defined(__CUDACC__)
#define FERNET_HD __host__ __device__ inline
#else
#define FERNET_HD inline
#endif
