#pragma once
// The geometry of a window sliding over a C x H x W input: what convolutions (kh x kw kernel)
// and max pooling (k x k window) share. The CPU kernels take it as a compile-time value (the
// specialised im2col), the device rules as a run-time one; it is the same struct.
#include "../host_device.hpp"

namespace fernet::kernels {

struct WindowGeometry {
  int channels, height, width;  // input
  int kh, kw, stride;
  int pad_top, pad_left;  // bottom/right padding is implied by out_h, out_w
  int out_h, out_w;
  FERNET_HD long rows() const { return static_cast<long>(channels) * kh * kw; }  // im2col rows
  FERNET_HD long pixels() const { return static_cast<long>(out_h) * out_w; }     // per channel
};

// A compile-time WindowGeometry with WindowGeometry's member names, for kernels written once
// over either (template <class Geo>): with this one the compiler folds the sizes.
template <WindowGeometry G>
struct FixedWindow {
  static constexpr int channels = G.channels, height = G.height, width = G.width, kh = G.kh, kw = G.kw;
  static constexpr int stride = G.stride, pad_top = G.pad_top, pad_left = G.pad_left, out_h = G.out_h, out_w = G.out_w;
  static constexpr long rows() { return static_cast<long>(channels) * kh * kw; }
  static constexpr long pixels() { return static_cast<long>(out_h) * out_w; }
};

// The output size of a window over `size` values with padding before and after.
constexpr int window_out(int size, int k, int stride, int pad_before, int pad_after) {
  return (size + pad_before + pad_after - k) / stride + 1;
}

// TensorFlow "SAME": total padding so that the output is ceil(size / stride); for an odd total
// the extra row/column goes after (bottom/right).
constexpr int same_out(int size, int stride) { return (size + stride - 1) / stride; }
constexpr int same_pad_total(int size, int k, int stride) {
  const int t = (same_out(size, stride) - 1) * stride + k - size;
  return t > 0 ? t : 0;
}
constexpr int same_pad_before(int size, int k, int stride) { return same_pad_total(size, k, stride) / 2; }
constexpr int same_pad_after(int size, int k, int stride) {
  return same_pad_total(size, k, stride) - same_pad_total(size, k, stride) / 2;
}

}  // namespace fernet::kernels
