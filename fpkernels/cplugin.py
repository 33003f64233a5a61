"""Helpers for plugins that ship their own C kernels, compiled with cffi against fpkernels.h.

In the plugin's build_ffi.py (run at build time, with fpkernels installed in the build
environment):

    from cffi import FFI
    from fpkernels.cplugin import build_options

    ffibuilder = FFI()
    ffibuilder.cdef("int mish_forward_f64(const double *x, double *out, size_t n, int threads);")
    ffibuilder.set_source("fpkernels_mish._mish", '#include "fpkernels.h"',
                          sources=["csrc/mish.c"], **build_options())

and in its Python module (at run time):

    from fpkernels.cplugin import c_array, check
    check(lib.mish_forward_f64(c_array(ffi, x), c_array(ffi, out), x.size,
                               fk.get_num_threads()), "mish")

The header gives plugins FPK_GRAIN, fpk_threads_within(n, max_threads), fpk_split_range and
FPK_PARALLEL_RANGES (header-only: a plugin cannot link against fpkernels' own extension, so
it must not call the fpk_* library functions; it gets the thread count from Python).
"""
import os

import numpy as np

from .runtime import get_include

__all__ = ["build_options", "compile_args", "c_array", "c_type", "check", "get_include"]


def compile_args(portable=None, march=None):
    """The C flags fpkernels itself is built with: C99, -O3, OpenMP, no errno, FMA contraction,
    and -march=native unless FPKERNELS_PORTABLE=1 (or FPKERNELS_MARCH=NAME for -march=NAME).
    Never -ffast-math (it breaks NaN and inf handling)."""
    flags = ["-std=c99", "-O3", "-fopenmp", "-fno-math-errno", "-ffp-contract=fast"]
    if portable is None:
        portable = os.environ.get("FPKERNELS_PORTABLE", "") not in ("", "0")
    if portable:
        return flags
    return flags + ["-march=" + (march or os.environ.get("FPKERNELS_MARCH", "native"))]


def build_options(portable=None, march=None):
    """Keyword arguments for cffi's FFI.set_source (or a setuptools Extension): include_dirs
    with fpkernels.h, extra_compile_args (compile_args()) and extra_link_args (-fopenmp)."""
    return {
        "include_dirs": [get_include()],
        "extra_compile_args": compile_args(portable, march),
        "extra_link_args": ["-fopenmp"],
    }


_C_TYPES = {np.dtype(np.float32): "float[]", np.dtype(np.float64): "double[]"}


def c_type(dtype):
    """The cffi array type of a float32 ("float[]") or float64 ("double[]") dtype."""
    try:
        return _C_TYPES[np.dtype(dtype)]
    except KeyError:
        raise TypeError(f"C kernels take float32 or float64 arrays, not {np.dtype(dtype)}") from None


def c_array(ffi, array):
    """A pointer to the data of a C-contiguous float32/float64 array, for the plugin's `ffi`
    (no copy; keep `array` alive during the call)."""
    if not array.flags.c_contiguous:
        raise ValueError("C kernels need C-contiguous arrays (numpy.ascontiguousarray)")
    return ffi.from_buffer(c_type(array.dtype), array)


def check(status, what=""):
    """Raise the exception an FPK_* status code stands for (FPK_OK returns quietly)."""
    from ._core import check as core_check
    core_check(status, what)
