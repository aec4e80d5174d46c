#pragma once
// FER2013 in one include: the data model (fer2013_dataset.hpp), its CSV text format
// (fer2013_csv.hpp) and its files, plain or gzip (fer2013_file.hpp, needs zlib: link
// fernet::data).
#include "fer2013_csv.hpp"
#include "fer2013_dataset.hpp"
#include "fer2013_file.hpp"
