#pragma once
// fernet: compile-time shaped neural networks. This umbrella header is all a user includes.
#include "version.hpp"
#include "simd.hpp"
#include "parallel.hpp"
#include "kernels/gemm.hpp"
