// Must not compile: the second convolution expects 16 channels, the first produces 32.
// EXPECT: shape_mismatch<fernet::layer<3>, fernet::Conv<16, 64, 3>, fernet::expects_channels<16>, fernet::but_layer<2>,
// fernet::produces<32, 23, 23, 16928>
#include <fernet/fernet.hpp>
using namespace fernet;

using Broken = Sequential<Input<1, 48, 48>, Conv<1, 32, 3>, ReLU, Pool<2>, Conv<16, 64, 3>, ReLU, Pool<2>, Flatten,
                          Linear<64 * 10 * 10, 7>>;

int main() {
  Broken net;
  return static_cast<int>(net.parameters().size());
}
