"""Build the C extension of fpkernels-mish with cffi, against the installed fpkernels' header.

fpkernels must be installed in the build environment (it is in [build-system] requires):
fpkernels.cplugin.build_options() gives the folder of fpkernels.h and the same compiler
flags fpkernels uses (C99, -O3, OpenMP, -march=native unless FPKERNELS_PORTABLE=1).
"""
from cffi import FFI

from fpkernels.cplugin import build_options

# The C functions Python calls: written once, used as the cffi cdef and checked by the
# compiler against their definitions in csrc/mish.c.
CDEF = """
int mish_forward_f32(const float *x, float *out, size_t n, int threads);
int mish_forward_f64(const double *x, double *out, size_t n, int threads);
int mish_derivative_f32(const float *x, float *out, size_t n, int threads);
int mish_derivative_f64(const double *x, double *out, size_t n, int threads);
int mish_backward_f32(const float *x, const float *grad_out, float *out, size_t n, int threads);
int mish_backward_f64(const double *x, const double *grad_out, double *out, size_t n, int threads);
"""

ffibuilder = FFI()
ffibuilder.cdef(CDEF)
ffibuilder.set_source("fpkernels_mish._mish", '#include "fpkernels.h"\n' + CDEF,
                      sources=["csrc/mish.c"], **build_options())

if __name__ == "__main__":
    ffibuilder.compile(verbose=True)
