#pragma once
// What the training tests share: small synthetic FER2013-shaped sets and a scratch directory per
// test process (files there are overwritten by later runs of the same test, never shared).
#include <cstdint>
#include <filesystem>
#include <string>

#include <unistd.h>

#include <fernet/data/synthetic.hpp>

namespace fernet::test {

inline std::filesystem::path scratch(const std::string& prefix, const std::string& name) {
  const auto dir = std::filesystem::temp_directory_path() / (prefix + "_" + std::to_string(::getpid()));
  std::filesystem::create_directories(dir);
  return dir / name;
}

inline data::Fer2013 synthetic(std::size_t train, std::size_t test, std::uint64_t seed) {
  data::SyntheticOptions o;
  o.training = train;
  o.public_test = test;
  o.seed = seed;
  return data::make_synthetic(o);
}

}  // namespace fernet::test
