"""float32 matrix multiplication, n x n by n x n: fpkernels against NumPy (OpenBLAS as it is
loaded, and with OPENBLAS_CORETYPE forced to the CPU's best core type) and torch.matmul(out=)."""
import numpy as np

import fpkernels as fk

SIZES = (256, 1024, 2048, 4096)
QUICK_SIZES = (128, 512)
THREADS = (1, 2)


def _matrices(n):
    rng = np.random.default_rng(n)
    return (rng.standard_normal((n, n), dtype=np.float32),
            rng.standard_normal((n, n), dtype=np.float32))


def cases(quick=False):
    try:
        import torch
    except ImportError:
        torch = None
    found = []
    for n in QUICK_SIZES if quick else SIZES:
        a, b = _matrices(n)
        out_fpk, out_numpy = np.empty((n, n), np.float32), np.empty((n, n), np.float32)
        forced = {"setup": "import numpy as np\n"
                           f"rng = np.random.default_rng({n})\n"
                           f"a = rng.standard_normal(({n}, {n}), dtype=np.float32)\n"
                           f"b = rng.standard_normal(({n}, {n}), dtype=np.float32)\n"
                           f"c = np.empty(({n}, {n}), np.float32)",
                  "stmt": "np.matmul(a, b, out=c)"}
        run_torch = None
        if torch is not None:
            ta, tb = torch.from_numpy(a), torch.from_numpy(b)
            tc = torch.empty((n, n), dtype=torch.float32)
            run_torch = lambda ta=ta, tb=tb, tc=tc: torch.matmul(ta, tb, out=tc)  # noqa: E731
        for threads in THREADS:
            found.append({
                "name": f"matmul f32 n={n}",
                "threads": threads,
                "fpk": lambda a=a, b=b, c=out_fpk: fk.matmul(a, b, out=c),
                "numpy": lambda a=a, b=b, c=out_numpy: np.matmul(a, b, out=c),
                "torch": run_torch,
                "bytes": 3 * n * n * 4,
                "flops": 2 * n ** 3,
                "numpy_forced": forced,
            })
    return found
