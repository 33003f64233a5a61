"""Shared fixtures: every kernel test runs for float32 and float64, on 1 and 2 threads."""
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fpkernels as fk

# Profiles: "ci" (default) keeps the suite fast; "fuzz" is the long run (see docs/hardening.md).
settings.register_profile("ci", max_examples=40, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.register_profile("fuzz", max_examples=5000, deadline=None,
                          suppress_health_check=[HealthCheck.too_slow])
settings.load_profile(os.environ.get("HYPOTHESIS_PROFILE", "ci"))


@pytest.fixture(params=[np.float32, np.float64], ids=["f32", "f64"])
def dtype(request):
    return np.dtype(request.param)


@pytest.fixture(params=[1, 2], ids=["1thread", "2threads"])
def threads(request):
    with fk.num_threads(request.param):
        yield request.param


@pytest.fixture
def run_python(tmp_path):
    """Run Python code in a new interpreter that imports this same fpkernels (installed or built
    in place), from an empty folder; returns the CompletedProcess (text, output captured)."""
    package_parent = str(Path(fk.__file__).resolve().parents[1])

    def run(code, env=None, check=True, timeout=120):
        environment = dict(os.environ if env is None else env)
        environment["PYTHONPATH"] = os.pathsep.join(
            p for p in (package_parent, environment.get("PYTHONPATH")) if p)
        return subprocess.run([sys.executable, "-c", code], cwd=tmp_path, env=environment,
                              capture_output=True, text=True, check=check, timeout=timeout)
    return run
