#pragma once
// Data augmentation, one transform per header in this folder; this header includes them all.
#include "affine.hpp"
#include "crop.hpp"
#include "equalize.hpp"
#include "erasing.hpp"
#include "flip.hpp"
#include "image.hpp"
#include "jitter.hpp"
#include "mixup.hpp"
#include "pipeline.hpp"
#include "seed.hpp"
