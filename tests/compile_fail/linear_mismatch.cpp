// Must not compile: NetAdam with Linear<2047, 1024> after a flatten that produces 2048 values.
// EXPECT: shape_mismatch<fernet::layer<10>, fernet::Linear<2047, 1024>, fernet::expects_inputs<2047>,
// fernet::but_layer<9>, fernet::produces<2048, 1, 1, 2048>
#include <fernet/fernet.hpp>
using namespace fernet;

using Broken =
    Sequential<Input<1, 48, 48>, Conv<1, 32, 3>, ReLU, Pool<2>, Conv<32, 64, 3>, ReLU, Pool<2>, Conv<64, 128, 3>, ReLU,
               Pool<2>, Flatten, Linear<2047, 1024>, ReLU, Dropout<0.2f>, Linear<1024, 256>, ReLU, Dropout<0.2f>,
               Linear<256, 64>, ReLU, Dropout<0.2f>, Linear<64, 7>, LogSoftmax>;

int main() {
  Broken net;
  return static_cast<int>(net.parameters().size());
}
