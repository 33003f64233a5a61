"""Plain-Python teaching references: every kernel written the way the paper writes it.

Explicit loops, one idea per line, no NumPy. They run (slowly), they are the oracles the C
kernels are tested against, and they are what `fpkernels explain` shows.

They are written for ordinary finite numbers, as the paper writes them. NaN, +-inf and empty
inputs are the kernels' business: there a reference may differ from its kernel (relu's
max(0, nan) gives 0 where the kernel keeps the NaN; swish at -inf gives NaN where the kernel
gives the limit; an empty mean divides by zero), so the tests compare them on finite values.
"""
# ---- tensor operations and statistics (tensor.py) ----
from .tensor import *  # noqa: F401,F403

# ---- activations (activations.py) ----
from .activations import *  # noqa: F401,F403

# ---- losses (losses.py) ----
from .losses import *  # noqa: F401,F403

# ---- optimizers, initializers, normalisation (training.py) ----
from .training import *  # noqa: E402,F401,F403
