"""Rare-concept data sets: a synthetic generator and loaders for real embeddings.

Every function returns the same :class:`~sklearn.utils.Bunch`: unit-norm
float32 embeddings ``X``, the member rows of each concept (``concepts``, and the
same in CSR form ``concept_indptr``/``concept_members``), ``concept_names`` and
a pool/test ``split`` (0 = unlabeled pool, 1 = held-out test rows).
"""

from ._base import pool_test_split
from ._generator import make_rare_concepts
from ._io import load_concept_data, save_concept_data

__all__ = [
    "load_concept_data",
    "make_rare_concepts",
    "pool_test_split",
    "save_concept_data",
]
