"""How far from the exact value each float32 activation lands, fpkernels against PyTorch CPU.

    python benchmarks/accuracy_vs_torch.py          # needs torch; about 10 s

Speed ratios against torch compare kernels of different accuracy: fpkernels keeps every float32
activation within 4 ULP of the float64 formula (SPEC), torch does not promise that. This prints,
for 2,000,001 points evenly spaced over [-12, 12], each implementation's largest distance in
ULP from the float64 formula rounded to float32, and the share of points more than 4 ULP off.
Not part of bench.py (its name does not start with bench_).
"""
import math
import sys

import numpy as np

import fpkernels as fk

_erf = np.frompyfunc(math.erf, 1, 1)
_erfc = np.frompyfunc(math.erfc, 1, 1)


def sigmoid64(x):
    return np.exp(-np.logaddexp(0, -x))             # no overflow, no cancellation for x << 0


EXACT = {   # float64 formulas, free of cancellation where the result is small
    "sigmoid": sigmoid64,
    "tanh": np.tanh,
    "swish": lambda x: x * sigmoid64(x),
    "gelu": lambda x: 0.5 * x * _erfc(-x / math.sqrt(2)).astype(np.float64),
    "gelu_tanh": lambda x: x * sigmoid64(2 * math.sqrt(2 / math.pi) * (x + 0.044715 * x ** 3)),
    "erf": lambda x: _erf(x).astype(np.float64),
}


def torch_kernels(torch):
    F = torch.nn.functional
    return {"sigmoid": torch.sigmoid, "tanh": torch.tanh, "swish": F.silu,
            "gelu": lambda t: F.gelu(t, approximate="none"),
            "gelu_tanh": lambda t: F.gelu(t, approximate="tanh"), "erf": torch.erf}


def ulp_distance(got, exact):
    """|got - exact| in units of the float32 spacing at the exact value rounded to float32."""
    spacing = np.spacing(np.abs(exact.astype(np.float32))).astype(np.float64)
    return np.abs(got.astype(np.float64) - exact) / spacing


def main():
    try:
        import torch
    except ImportError:
        sys.exit("needs torch (pip install torch==2.13.0)")
    x = np.linspace(-12, 12, 2_000_001).astype(np.float32)
    x64 = x.astype(np.float64)
    ours = {name: (lambda v, n=name: fk.activations.get(n).forward(v)) for name in EXACT}
    ours["erf"] = fk.erf
    theirs = torch_kernels(torch)
    print(f"{'float32 on [-12, 12]':22s} | {'fpkernels max ULP':>17s} | {'torch max ULP':>13s} "
          f"| torch > 4 ULP | torch's worst x")
    for name, exact in EXACT.items():
        want = exact(x64)
        mine = ulp_distance(ours[name](x), want)
        torch_ulps = ulp_distance(theirs[name](torch.from_numpy(x)).numpy(), want)
        worst = x[np.argmax(torch_ulps)]
        print(f"{name:22s} | {mine.max():17.2f} | {torch_ulps.max():13.3g} "
              f"| {np.mean(torch_ulps > 4):13.1%} | {worst:.4g}")


if __name__ == "__main__":
    main()
