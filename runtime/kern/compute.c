/* CPU implementations of the bundled kernels, as plain functions. Where the
 * OpenCL kernel is exact (element-wise, convolution, histograms, transpose)
 * this code does the same operations in the same order, one operation per
 * statement so that no compiler fuses a multiply and an add: both sides give
 * the same bits. Reduce, scan and SGEMM sum in another order than the device
 * and agree to rounding. */
#include <math.h>
#include <string.h>

#include "kern/kern.h"

void kern_saxpy(const float *x, const float *y, float *out, size_t n, float a) {
  for (size_t i = 0; i < n; i++) {
    float p = a * x[i];
    out[i] = p + y[i];
  }
}

void kern_scale(const float *x, float *out, size_t n, float a) {
  for (size_t i = 0; i < n; i++)
    out[i] = a * x[i];
}

void kern_add(const float *x, const float *y, float *out, size_t n) {
  for (size_t i = 0; i < n; i++)
    out[i] = x[i] + y[i];
}

/* Eight independent accumulators: vectorisable and closer to the device's
 * strided partials than one running sum. */
float kern_reduce(maestro_bundled_t which, const float *x, size_t n) {
  enum { LANES = 8 };
  float acc[LANES];
  float id = which == MAESTRO_BUNDLED_REDUCE_SUM   ? 0.0f
             : which == MAESTRO_BUNDLED_REDUCE_MIN ? INFINITY
                                                   : -INFINITY;
  for (int l = 0; l < LANES; l++)
    acc[l] = id;
  size_t i = 0;
  if (which == MAESTRO_BUNDLED_REDUCE_SUM) {
    for (; i + LANES <= n; i += LANES)
      for (int l = 0; l < LANES; l++)
        acc[l] += x[i + l];
    for (; i < n; i++)
      acc[0] += x[i];
    float s = 0.0f;
    for (int l = 0; l < LANES; l++)
      s += acc[l];
    return s;
  }
  int is_min = which == MAESTRO_BUNDLED_REDUCE_MIN;
  for (; i < n; i++) {
    int l = (int)(i % LANES);
    acc[l] = is_min ? fminf(acc[l], x[i]) : fmaxf(acc[l], x[i]);
  }
  float r = id;
  for (int l = 0; l < LANES; l++)
    r = is_min ? fminf(r, acc[l]) : fmaxf(r, acc[l]);
  return r;
}

void kern_scan_sum(const float *x, float *y, size_t n) {
  float s = 0.0f;
  for (size_t i = 0; i < n; i++) {
    s += x[i];
    y[i] = s;
  }
}

void kern_histogram_u8(const uint8_t *x, size_t n, uint32_t hist[256]) {
  memset(hist, 0, 256 * sizeof hist[0]);
  for (size_t i = 0; i < n; i++)
    hist[x[i]]++;
}

/* Same rule as maestro_hist_f32_bin in kernels/histogram.cl. */
static unsigned hist_f32_bin(float v, float lo, float scale) {
  float d = v - lo;
  float t = d * scale;
  if (!(t >= 0.0f)) return 0;
  if (t >= 256.0f) return 255;
  unsigned b = (unsigned)t;
  return b > 255 ? 255 : b;
}

void kern_histogram_f32(const float *x, size_t n, float lo, float scale, uint32_t hist[256]) {
  memset(hist, 0, 256 * sizeof hist[0]);
  for (size_t i = 0; i < n; i++)
    hist[hist_f32_bin(x[i], lo, scale)]++;
}

/* Blocked so that both sides stay in cache. */
void kern_transpose(const float *in, float *out, uint32_t w, uint32_t h) {
  enum { B = 32 };
  for (uint32_t by = 0; by < h; by += B)
    for (uint32_t bx = 0; bx < w; bx += B)
      for (uint32_t y = by; y < by + B && y < h; y++)
        for (uint32_t x = bx; x < bx + B && x < w; x++)
          out[(size_t)x * h + y] = in[(size_t)y * w + x];
}

/* i-k-j order with k blocked: the inner loop runs along rows of b and c
 * (vectorised), and a block of b stays in cache across rows of a. */
void kern_sgemm(const float *a, const float *b, float *c, uint32_t m, uint32_t n, uint32_t k) {
  enum { KB = 128 };
  memset(c, 0, (size_t)m * n * sizeof *c);
  for (uint32_t k0 = 0; k0 < k; k0 += KB) {
    uint32_t k1 = k0 + KB < k ? k0 + KB : k;
    for (uint32_t i = 0; i < m; i++) {
      float *ci = c + (size_t)i * n;
      for (uint32_t kk = k0; kk < k1; kk++) {
        float aik = a[(size_t)i * k + kk];
        const float *bk = b + (size_t)kk * n;
        for (uint32_t j = 0; j < n; j++)
          ci[j] += aik * bk[j];
      }
    }
  }
}

static inline int clampi(int v, int lo, int hi) {
  return v < lo ? lo : v > hi ? hi : v;
}

/* Same taps, same order and same rounding as maestro_conv_px in kernels/conv.cl. */
void kern_conv(const float *in, float *out, uint32_t w, uint32_t h, int radius,
               const float *weights) {
  int W = (int)w, H = (int)h;
  for (int y = 0; y < H; y++)
    for (int x = 0; x < W; x++) {
      float acc = 0.0f;
      int t = 0;
      for (int dy = -radius; dy <= radius; dy++) {
        int yy = clampi(y + dy, 0, H - 1);
        for (int dx = -radius; dx <= radius; dx++) {
          int xx = clampi(x + dx, 0, W - 1);
          float p = weights[t++] * in[(size_t)yy * w + (size_t)xx];
          acc = acc + p;
        }
      }
      out[(size_t)y * w + (size_t)x] = acc;
    }
}
