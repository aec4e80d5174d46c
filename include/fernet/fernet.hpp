#pragma once
// fernet: compile-time shaped neural networks. This umbrella header is all a user includes.
#include "chain.hpp"
#include "gradcheck.hpp"
#include "layer.hpp"
#include "layers/all.hpp"
#include "loss.hpp"
#include "optim/adam.hpp"
#include "optim/sgd.hpp"
#include "parallel.hpp"
#include "sequential.hpp"
#include "shape.hpp"
#include "simd.hpp"
#include "version.hpp"
