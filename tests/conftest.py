"""Test-session settings.

Tests assert behaviour, not speed. On a 2-core machine, faiss's OpenMP threads
and OpenBLAS's threads spin against each other and make the many tiny fits of
the suite ~10x slower, so the suite runs BLAS and OpenMP single-threaded.
"""

import pytest
from threadpoolctl import threadpool_limits


@pytest.fixture(autouse=True, scope="session")
def _single_threaded_native_libraries():
    with threadpool_limits(limits=1):
        yield
