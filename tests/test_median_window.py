"""The large float32 median (csrc/reduce.c, median_window_f32): a sample predicts a window
around the middle, one pass keeps the values inside it, and the buffer is narrowed the same way
until quickselect finishes; when the window misses, radix selection answers. Each case checks the
exact value against NumPy, and that 1 and 2 threads give the same bits."""
import numpy as np
import pytest

import fpkernels as fk

N = 1 << 20  # the sample is then 16384 elements, one per stretch of 64


def sampled_positions(n):
    """The positions the C code samples (same formula as window_select_f32)."""
    s = min(n // 64, 16384)
    stride = n // s
    j = np.arange(s, dtype=np.uint64)
    h = (j * np.uint64(0x9E3779B1)) & np.uint64(0xFFFFFFFF)
    return (j * np.uint64(stride) + (h ^ (h >> np.uint64(16))) % np.uint64(stride)).astype(np.int64)


def want(x):
    with np.errstate(invalid="ignore"):
        return np.float32(np.median(x.astype(np.float64)))


def check(x):
    """fk.median(x) equals NumPy's median, for x and x without its last element (odd and even
    counts), with the same bits on 1 and 2 threads."""
    for m in (x, x[:-1]):
        results = []
        for threads in (1, 2):
            with fk.num_threads(threads):
                results.append(np.float32(fk.median(m)))
        expected = want(m)
        assert results[0] == expected or (np.isnan(results[0]) and np.isnan(expected)), \
            (results[0], expected)
        assert results[0].view(np.uint32) == results[1].view(np.uint32)


def pattern(name, n=N):
    rng = np.random.default_rng(5)
    i = np.arange(n)
    return {
        "normal": lambda: rng.standard_normal(n),
        "sorted": lambda: i * 1.0,
        "periodic": lambda: (i % 64) * 1000.0 + rng.random(n),  # period divides the stride
        "neighbours": lambda: np.where(i % 2 == 0, 1.0, np.nextafter(np.float32(1), 2)),
        "heavy_middle": lambda: np.where(rng.random(n) < 0.01, rng.random(n), 0.5),
        "quantised": lambda: rng.integers(0, 256, n) * 1.0,
        "few": lambda: (i % 3) * 1.0,
        "clusters": lambda: np.where(i % 2 == 0, rng.normal(-1e3, 1, n), rng.normal(1e3, 1, n)),
        "signed_zeros": lambda: np.where(rng.random(n) < 0.5, -0.0, 0.0),
        "infinities": lambda: np.where(rng.random(n) < 0.5, -np.inf, np.inf),
        "subnormal": lambda: rng.standard_normal(n) * 1e-40,
        "skewed": lambda: rng.lognormal(0, 3, n),
    }[name]().astype(np.float32)


@pytest.mark.parametrize("name", ["normal", "sorted", "periodic", "neighbours", "heavy_middle",
                                  "quantised", "few", "clusters", "signed_zeros", "infinities",
                                  "subnormal", "skewed"])
def test_patterns(name):
    check(pattern(name))


@pytest.mark.parametrize("n", [262_144, 262_145, 300_001, 2_000_001])
def test_sizes(n):
    check(np.random.default_rng(n).standard_normal(n).astype(np.float32))


def test_sample_far_from_the_middle_falls_back():
    """Every sampled element is huge: the window misses the middle and radix selection answers."""
    x = pattern("normal")
    x[sampled_positions(N)] = 1e30
    check(x)


def test_crowded_window_falls_back():
    """The sample is spread out but everything else sits strictly inside its window: the buffer
    would overflow, so radix selection answers."""
    x = np.full(N, 0.5, np.float32)
    positions = sampled_positions(N)
    x[positions] = np.linspace(0, 1, positions.size, dtype=np.float32) + np.float32(1e-4)
    check(x)


@pytest.mark.parametrize("where", ["sampled", "not_sampled", "last"])
def test_nan_anywhere(where):
    x = pattern("normal")
    positions = sampled_positions(N)
    at = {"sampled": positions[777], "not_sampled": positions[777] + 1, "last": N - 2}[where]
    x[at] = np.nan
    check(x)
    x[at] = -np.nan
    check(x)
