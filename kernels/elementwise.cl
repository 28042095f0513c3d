/* Element-wise kernels: saxpy, scale, add. One work-item per element; the
 * global range is rounded up, so every kernel guards with its count n.
 * FP_CONTRACT OFF: a*x+y stays a multiply then an add (no fma), exactly as
 * the CPU implementation computes it, so both give the same bits. */
#pragma OPENCL FP_CONTRACT OFF

/* out = a * x + y (n = elements of x; y must hold n too). */
__kernel void maestro_saxpy(__global const float *x, __global const float *y, __global float *out,
                            uint n, uint ny, float a) {
  size_t i = get_global_id(0);
  if (i < n && i < ny) {
    float p = a * x[i];
    out[i] = p + y[i];
  }
}

/* out = a * x */
__kernel void maestro_scale(__global const float *x, __global float *out, uint n, float a) {
  size_t i = get_global_id(0);
  if (i < n)
    out[i] = a * x[i];
}

/* out = x + y */
__kernel void maestro_add(__global const float *x, __global const float *y, __global float *out,
                          uint n, uint ny) {
  size_t i = get_global_id(0);
  if (i < n && i < ny)
    out[i] = x[i] + y[i];
}
