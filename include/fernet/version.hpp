#pragma once
namespace fernet {
inline constexpr int version_major = 0, version_minor = 1, version_patch = 0;
inline constexpr const char* version_string = "0.1.0";
}  // namespace fernet
