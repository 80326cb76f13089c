"""Small utilities shared by learners, pools, strategies and indexes."""

from ._bitmap import RowBitmap
from ._optional import import_optional
from ._parallel import iter_row_blocks, map_row_blocks
from ._sampling import sample_available
from ._selection import best_of, head_positions, tie_break_keys, top_k
from ._threads import effective_n_threads
from ._validation import check_batch_size, check_indices, check_label_values

__all__ = [
    "RowBitmap",
    "best_of",
    "check_batch_size",
    "check_indices",
    "check_label_values",
    "effective_n_threads",
    "head_positions",
    "import_optional",
    "iter_row_blocks",
    "map_row_blocks",
    "sample_available",
    "tie_break_keys",
    "top_k",
]
