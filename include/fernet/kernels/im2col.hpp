#pragma once
// im2col / col2im for one sample: turns a convolution into one matrix product.
// col has (C * KH * KW) rows and (Ho * Wo) columns, rows ld floats apart (ld > Ho * Wo lets
// several samples sit side by side in one wide matrix); padding (possibly asymmetric) reads as 0.
#include <cstddef>
#include <cstring>

namespace fernet::kernels {

struct ConvGeometry {
  int channels, height, width;  // input
  int kh, kw, stride, pad_top, pad_left;
  int out_h, out_w;
};

inline void im2col(const float* x, const ConvGeometry& g, float* col, std::ptrdiff_t ld) {
  for (int c = 0; c < g.channels; ++c) {
    const float* xc = x + static_cast<std::ptrdiff_t>(c) * g.height * g.width;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        float* row = col + (static_cast<std::ptrdiff_t>(c) * g.kh * g.kw + i * g.kw + j) * ld;
        for (int oh = 0; oh < g.out_h; ++oh) {
          const int h = oh * g.stride - g.pad_top + i;
          float* r = row + oh * g.out_w;
          if (h < 0 || h >= g.height) {
            std::memset(r, 0, sizeof(float) * g.out_w);
            continue;
          }
          const float* xr = xc + h * g.width;
          if (g.stride == 1) {
            // Contiguous run of valid columns, zeros at the padded ends.
            const int w0 = j - g.pad_left;
            int lo = w0 < 0 ? -w0 : 0;
            int hi = g.width - w0;
            if (hi > g.out_w) hi = g.out_w;
            if (lo > g.out_w) lo = g.out_w;
            for (int ow = 0; ow < lo; ++ow) r[ow] = 0.f;
            if (hi > lo) std::memcpy(r + lo, xr + w0 + lo, sizeof(float) * (hi - lo));
            for (int ow = hi > lo ? hi : lo; ow < g.out_w; ++ow) r[ow] = 0.f;
          } else {
            for (int ow = 0; ow < g.out_w; ++ow) {
              const int w = ow * g.stride - g.pad_left + j;
              r[ow] = (w >= 0 && w < g.width) ? xr[w] : 0.f;
            }
          }
        }
      }
    }
  }
}

// dx = col2im(dcol): every column entry is added back to the input pixel it was read from.
inline void col2im(const float* col, const ConvGeometry& g, float* dx, std::ptrdiff_t ld) {
  std::memset(dx, 0, sizeof(float) * g.channels * g.height * g.width);
  for (int c = 0; c < g.channels; ++c) {
    float* dc = dx + static_cast<std::ptrdiff_t>(c) * g.height * g.width;
    for (int i = 0; i < g.kh; ++i) {
      for (int j = 0; j < g.kw; ++j) {
        const float* row = col + (static_cast<std::ptrdiff_t>(c) * g.kh * g.kw + i * g.kw + j) * ld;
        for (int oh = 0; oh < g.out_h; ++oh) {
          const int h = oh * g.stride - g.pad_top + i;
          if (h < 0 || h >= g.height) continue;
          const float* r = row + oh * g.out_w;
          float* dr = dc + h * g.width;
          for (int ow = 0; ow < g.out_w; ++ow) {
            const int w = ow * g.stride - g.pad_left + j;
            if (w >= 0 && w < g.width) dr[w] += r[ow];
          }
        }
      }
    }
  }
}

}  // namespace fernet::kernels
