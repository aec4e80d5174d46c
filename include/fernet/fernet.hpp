#pragma once
// fernet: compile-time shaped neural networks. This umbrella header is all a user includes.
#include "version.hpp"
#include "simd.hpp"
#include "parallel.hpp"
#include "shape.hpp"
#include "layer.hpp"
#include "chain.hpp"
#include "layers/all.hpp"
#include "sequential.hpp"
#include "loss.hpp"
#include "optim/sgd.hpp"
#include "optim/adam.hpp"
#include "gradcheck.hpp"
