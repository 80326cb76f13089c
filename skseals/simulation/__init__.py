"""Simulated labeling with an oracle: the SEALS paper's experimental protocol.

:func:`simulate` runs learner configurations on rare concepts and records, per
round, labels spent, average precision on a held-out test split, recall of the
pool's positives, pool size and the time split; :func:`summarize` and
:func:`summary_table` aggregate the records as the paper's figures and Table 2
do; :func:`write_results` and :func:`read_results` store them as CSV or JSON.
"""

from ._harness import simulate
from ._results import (
    RECORD_FIELDS,
    read_results,
    summarize,
    summary_table,
    write_results,
)

__all__ = [
    "RECORD_FIELDS",
    "read_results",
    "simulate",
    "summarize",
    "summary_table",
    "write_results",
]
