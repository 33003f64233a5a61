"""Shared fixtures: every kernel test runs for float32 and float64, on 1 and 2 threads."""
import os

import numpy as np
import pytest
from hypothesis import HealthCheck, settings

import fpkernels as fk

# Profiles: "ci" (default) keeps the suite fast; "fuzz" is the long run (see docs/testing.md).
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
