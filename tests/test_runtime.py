"""Threads, build facts and the installed header."""
import os

import numpy as np
import pytest

import fpkernels as fk


def test_info_reports_the_build():
    info = fk.info()
    assert info["version"] == fk.__version__
    assert info["simd"] in ("avx512", "avx2", "sse2", "neon", "scalar")
    assert "-O3" in info["flags"] and "fast-math" not in info["flags"]
    assert info["threads"] == fk.get_num_threads() >= 1


def test_num_threads_context_restores_the_count():
    before = fk.get_num_threads()
    with fk.num_threads(1):
        assert fk.get_num_threads() == 1
    assert fk.get_num_threads() == before


@pytest.mark.parametrize("bad, error", [
    (0, ValueError), (-3, ValueError), (2**31, ValueError), (np.int64(-1), ValueError),
    (1.5, TypeError), (True, TypeError), (np.bool_(True), TypeError), ("2", TypeError)])
def test_set_num_threads_rejects_bad_counts(bad, error):
    before = fk.get_num_threads()
    with pytest.raises(error, match="between 1 and 2147483647" if error is ValueError else "int"):
        fk.set_num_threads(bad)
    assert fk.get_num_threads() == before


def test_set_num_threads_takes_numpy_ints():
    with fk.num_threads(np.int64(1)):
        assert fk.get_num_threads() == 1
    before = fk.get_num_threads()
    fk.set_num_threads(np.uint8(1))
    assert fk.get_num_threads() == 1
    fk.set_num_threads(before)


def test_omp_num_threads_is_honoured(run_python):
    printed = run_python("import fpkernels as fk; print(fk.get_num_threads())",
                         env=dict(os.environ, OMP_NUM_THREADS="1"))
    assert printed.stdout.strip() == "1"


def test_get_include_holds_the_public_header():
    assert os.path.isfile(os.path.join(fk.get_include(), "fpkernels.h"))
