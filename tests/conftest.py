"""Test-session settings.

Tests assert behaviour, not speed. On a 2-core machine, faiss's OpenMP threads
and OpenBLAS's threads spin against each other and make the many tiny fits of
the suite ~10x slower, so the suite runs BLAS and OpenMP single-threaded.
"""

import numpy as np
import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_native_libraries():
    with threadpool_limits(limits=1):
        yield


@pytest.fixture(scope="session")
def rare_concept_data():
    """3,000 float32 rows of 16 features; rows 0-59 form a rare, clustered concept.

    ``y`` labels 5 of its rows positive and 40 background rows negative; the
    rest are unlabeled (-1). Modules wrap it in their own ``data`` fixture.
    """
    rng = np.random.default_rng(0)
    X = rng.normal(size=(3000, 16)).astype(np.float32)
    X[:60] += 2.5  # a rare, clustered concept
    y = np.full(3000, -1)
    y[:5] = 1
    y[100:140] = 0
    return X, y
