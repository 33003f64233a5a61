"""Plain-Python teaching references: every kernel written the way the paper writes it.

Explicit loops, one idea per line, no NumPy. They run (slowly), they are the oracles the C
kernels are tested against, and they are what `fpkernels explain` shows.
"""
# ---- tensor operations and statistics (tensor.py) ----
from .tensor import *  # noqa: F401,F403

# ---- activations (activations.py) ----
from .activations import *  # noqa: F401,F403

# ---- losses (losses.py) ----
from .losses import *  # noqa: F401,F403

# ---- optimizers, initializers, normalisation (training.py) ----
from .training import *  # noqa: E402,F401,F403
