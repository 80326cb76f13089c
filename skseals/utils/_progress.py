"""Progress bars over rows (tqdm, an optional dependency) for long passes."""

from __future__ import annotations

from collections.abc import Callable, Iterable, Iterator

from ._optional import import_optional

__all__ = ["add_rows", "track_rows"]

#: Rows added per call when a build shows its progress.
ADD_BLOCK = 65_536


def track_rows(
    results: Iterable, n_rows: int, block_size: int, *, verbose: bool, desc: str
) -> Iterator:
    """Yield ``results`` (one per block of ``block_size`` rows) as they come.

    With ``verbose`` a tqdm bar over the ``n_rows`` rows (``unit="row"``)
    advances by each block's rows once its result is in; without it the
    results pass through untouched and nothing is printed. tqdm is imported
    before the first block runs, so a missing tqdm fails fast with the extra
    to install.
    """
    if not verbose:
        yield from results
        return
    tqdm = import_optional("tqdm.auto").tqdm
    with tqdm(total=n_rows, desc=desc, unit="row", unit_scale=True) as bar:
        for i, result in enumerate(results):
            yield result
            bar.update(min(block_size, n_rows - i * block_size))


def add_rows(
    add: Callable[[int, int], object],
    n_rows: int,
    *,
    verbose: bool,
    desc: str,
    chunked: bool = True,
) -> None:
    """Call ``add(start, stop)`` over ``range(n_rows)`` to fill an index.

    Without ``verbose`` it is one call, ``add(0, n_rows)``. With it, rows go
    in blocks of :data:`ADD_BLOCK` behind a tqdm bar; ``chunked=False`` keeps
    one call (the bar then fills at the end), for an index whose content
    would depend on how rows were split between calls (faiss HNSW sorts each
    call's rows by level; NSG builds its graph in one call).
    """
    step = ADD_BLOCK if verbose and chunked else max(n_rows, 1)
    calls = (add(s, min(s + step, n_rows)) for s in range(0, max(n_rows, 1), step))
    for _ in track_rows(calls, n_rows, step, verbose=verbose, desc=desc):
        pass
