// FNV-1a, the checksum of checkpoints and of `fernet info`'s weights checksum.
#include <doctest/doctest.h>

#include <string_view>

#include <fernet/hash.hpp>

TEST_CASE("hash: FNV-1a 64 matches the published test vectors and continues across blocks") {
  using fernet::fnv1a;
  CHECK(fnv1a("", 0) == 0xcbf29ce484222325ull);
  CHECK(fnv1a("a", 1) == 0xaf63dc4c8601ec8cull);
  CHECK(fnv1a("foobar", 6) == 0x85944171f73967e8ull);
  CHECK(fnv1a("bar", 3, fnv1a("foo", 3)) == fnv1a("foobar", 6));
}
