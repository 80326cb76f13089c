"""The result of :func:`~skseals.analysis.concept_structure` and its summary."""

from __future__ import annotations

from dataclasses import dataclass, field

import numpy as np

__all__ = ["ConceptStructure"]


@dataclass(eq=False)
class ConceptStructure:
    """How a concept's known positives hang together in the kNN graph.

    Returned by :func:`concept_structure`; ``str()`` gives :meth:`summary`.

    Attributes
    ----------
    n_neighbors : int
        The k of the kNN graph.
    metric : str
        Its metric.
    n_positives : int
        Distinct known positives.
    n_components : int
        Connected components of the graph restricted to the positives.
    component_sizes : ndarray of int64
        Their sizes, largest first (sums to ``n_positives``).
    largest_component_share : float
        ``component_sizes[0] / n_positives``: the share of the positives that
        SEALS can reach from any one of them through chains of positives.
    n_isolated : int
        Positives with no positive neighbour (components of size one).
    n_edges : int
        Undirected edges between positives.
    mean_path_length : float
        Mean shortest-path length in hops over the pairs of positives that lie
        in the same component (NaN when no two positives are connected).
    max_path_length : int
        The longest of those shortest paths (the largest component diameter);
        a lower bound when ``path_sampled``.
    path_sampled : bool
        True when paths were measured from a random sample of ``n_path_sources``
        positives (``max_sources``) instead of from every positive.
    n_path_sources : int
        Positives whose shortest paths were measured.
    positives : ndarray of int64
        The distinct positive rows, sorted.
    component_labels : ndarray of int64
        Component of each row of ``positives``; component 0 is the largest.

    Examples
    --------
    Row 5 lies far from the other positives: its nearest neighbour (row 4)
    is not a positive, so it is a component of its own.

    >>> import numpy as np
    >>> from skseals.analysis import concept_structure
    >>> X = np.array([[0.0], [1.0], [2.5], [10.0], [11.0], [30.0]])
    >>> s = concept_structure(X, [5, 0, 1, 2], n_neighbors=1, index="exact",
    ...                       metric="euclidean")
    >>> s.positives.tolist(), s.component_labels.tolist(), s.n_isolated
    ([0, 1, 2, 5], [0, 0, 0, 1], 1)
    >>> s.as_dict()["component_sizes"], s.max_path_length
    ([3, 1], 2)
    >>> print(s)
    SEALS with k=1 can reach 75% of the 4 known positives from any one of them:
    3 form one connected component of the 1-nearest-neighbour graph (euclidean).
    The other 1 has no positive neighbour.
    Connected positives are 1.33 hops apart on average (at most 2).
    Verdict: partly fragmented. Seed positives from several components, or use
    a larger k.
    """

    n_neighbors: int
    metric: str
    n_positives: int
    n_components: int
    component_sizes: np.ndarray = field(repr=False)
    largest_component_share: float
    n_isolated: int
    n_edges: int
    mean_path_length: float
    max_path_length: int
    path_sampled: bool
    n_path_sources: int
    positives: np.ndarray = field(repr=False)
    component_labels: np.ndarray = field(repr=False)

    def as_dict(self) -> dict:
        """The scalar fields, plus ``component_sizes`` as a list (for CSV/JSON)."""
        return {
            "n_neighbors": self.n_neighbors,
            "metric": self.metric,
            "n_positives": self.n_positives,
            "n_components": self.n_components,
            "largest_component": int(self.component_sizes[0]),
            "largest_component_share": self.largest_component_share,
            "n_isolated": self.n_isolated,
            "n_edges": self.n_edges,
            "mean_path_length": self.mean_path_length,
            "max_path_length": self.max_path_length,
            "path_sampled": self.path_sampled,
            "component_sizes": self.component_sizes.tolist(),
        }

    def summary(self) -> str:
        """A few sentences for a user about to label: can SEALS reach the concept?

        Returns
        -------
        text : str
            The reach at this k, the other components, the mean path and a
            verdict with what to do when the concept is fragmented.
        """
        k, n = self.n_neighbors, self.n_positives
        big = int(self.component_sizes[0])
        share = self.largest_component_share
        if n == 1:
            return (
                f"One known positive: nothing to measure at k={k}. Label a few "
                "more positives to see whether the concept hangs together."
            )
        lines = [
            f"SEALS with k={k} can reach {share:.0%} of the {n} known positives "
            f"from any one of them: {big} form one connected component of the "
            f"{k}-nearest-neighbour graph ({self.metric})."
        ]
        rest = self.component_sizes[1:]
        n_rest, iso = n - big, int((rest == 1).sum())
        if rest.size and iso == n_rest:
            lines.append(
                f"The other {n_rest} {'has' if n_rest == 1 else 'have'} no "
                "positive neighbour."
            )
        elif rest.size:
            shown = ", ".join(str(int(s)) for s in rest[:8])
            more = f", ... ({rest.size - 8} more)" if rest.size > 8 else ""
            lines.append(
                f"The other {n_rest} lie in {rest.size} smaller component"
                f"{'s' if rest.size > 1 else ''} (sizes {shown}{more})"
                + (
                    f"; {iso} of them {'has' if iso == 1 else 'have'} no "
                    "positive neighbour."
                    if iso
                    else "."
                )
            )
        if np.isfinite(self.mean_path_length):
            sampled = (
                f", estimated from {self.n_path_sources} sampled positives"
                if self.path_sampled
                else ""
            )
            lines.append(
                f"Connected positives are {self.mean_path_length:.2f} hops apart "
                f"on average (at most {self.max_path_length}{sampled})."
            )
        if share >= 0.8:
            lines.append("Verdict: SEALS should reach most of this concept at this k.")
        elif share >= 0.5:
            lines.append(
                "Verdict: partly fragmented. Seed positives from several "
                "components, or use a larger k."
            )
        else:
            lines.append(
                "Verdict: fragmented. From a few seeds SEALS will miss much of "
                "the concept: use a larger k, seed positives from each component, "
                "query_strategy='query_anywhere', or a full scan."
            )
        return "\n".join(lines)

    def __str__(self) -> str:
        return self.summary()
