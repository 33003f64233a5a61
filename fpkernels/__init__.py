"""fpkernels: hand-written C99 + OpenMP machine-learning kernels for NumPy arrays.

Every kernel has a plain-Python twin in fpkernels.formulaic that reads like the math and is
the test oracle. Names are looked up in four registries that plugins extend.
"""
from . import activations, formulaic, initializers, losses, optimizers, registry
from .runtime import get_include, get_num_threads, info, num_threads, set_num_threads

# ---- tensor operations and statistics (ops.py) ----
from .ops import (abs, add, add_scalar, div, div_scalar, dot, flatten, max, mean, median, min, mul,  # noqa: A004
                  mul_scalar, pad, power, reshape, resize, shape_product, std, sub, sub_scalar, sum,
                  transpose)

# ---- erf (activations.py) ----
from .activations import erf

# ---- matrix multiplication (linalg.py) ----
from .linalg import matmul

# ---- normalisation (normalize.py) ----
from .normalize import minmax, minmax_inverse, zscore, zscore_inverse  # noqa: E402

# ---- networks (nn.py) ----
from . import nn

__version__ = "0.1.0"

# ---- plugins: base classes and conformance kit (interfaces.py, testing.py) ----
from . import interfaces, testing  # noqa: E402
