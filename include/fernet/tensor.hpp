#pragma once
// Tensors at the API surface are xtensor containers: contiguous, row-major, batch first (NCHW).
// Kernels work on their raw data; outputs come back as adaptors over the network's own buffers.
#include <vector>

#include <xsimd/memory/xsimd_aligned_allocator.hpp>
#include <xtensor/xadapt.hpp>
#include <xtensor/xtensor.hpp>

namespace fernet {

template <std::size_t Rank>
using Tensor = xt::xtensor<float, Rank>;

// Storage for parameter, gradient and buffer blocks: one aligned allocation each.
using AlignedFloats = std::vector<float, xsimd::aligned_allocator<float, 64>>;

}  // namespace fernet
